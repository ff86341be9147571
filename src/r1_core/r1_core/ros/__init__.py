"""Thin ROS 2 helpers shared by the nodes: conversions, QoS, parameters, node running, sim lock-step."""
