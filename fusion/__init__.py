"""Collaborative perception: fusers, registration, metrics (filled in by the perception issue)."""
