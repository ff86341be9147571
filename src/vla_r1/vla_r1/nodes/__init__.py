"""Thin rclpy nodes around the vla_r1 core."""
