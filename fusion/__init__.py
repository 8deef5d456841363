"""Collaborative perception: the fusion centre's fusers, registration and metrics."""

from fusion.fusers import Fuser, KalmanFuser, LatestFuser, make_fuser
from fusion.observation import Observation

__all__ = ["Fuser", "KalmanFuser", "LatestFuser", "Observation", "make_fuser"]
