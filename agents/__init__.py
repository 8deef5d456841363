"""Schedulers, RL adapters, evaluation and reports (filled in by the agents issue)."""
