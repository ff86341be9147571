"""Rosbag2 recording, replay (live with /clock, or offline into the control core) and evaluation."""

from nav_r1.bag.reader import BagError, BagSource
from nav_r1.bag.record import BagRecorder

__all__ = ["BagError", "BagRecorder", "BagSource"]
