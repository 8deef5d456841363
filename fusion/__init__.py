"""Collaborative perception: the fusion centre's fusers, registration and metrics."""

if __name__ != "sagsim.fusion":  # e.g. `import fusion` from the repository's top folder
    raise ImportError("this is sagsim's fusion package: import it as sagsim.fusion")


from sagsim.fusion.fusers import Fuser, KalmanFuser, LatestFuser, make_fuser
from sagsim.fusion.observation import Observation

__all__ = ["Fuser", "KalmanFuser", "LatestFuser", "Observation", "make_fuser"]
