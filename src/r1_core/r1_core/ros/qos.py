"""QoS profiles used across the graph (REFERENCE.md: sensor data best-effort, the rest reliable)."""

from __future__ import annotations

from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)

#: Cameras, depth, scans: KEEP_LAST 5, BEST_EFFORT, VOLATILE — drop rather than queue.
SENSOR_QOS: QoSProfile = qos_profile_sensor_data
#: Commands, plans, status: KEEP_LAST 10, RELIABLE.
RELIABLE_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)
#: The last value is kept for late joiners (instructions, static configuration).
LATCHED_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)
#: Simulator lock-step messages: nothing may be lost.
SYNC_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=100, reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)
