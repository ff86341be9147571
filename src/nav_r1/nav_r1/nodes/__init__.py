"""Thin rclpy nodes of the navigation stack (each converts messages and calls a ROS-free core)."""
