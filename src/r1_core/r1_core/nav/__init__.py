"""The shared navigation vocabulary: discrete actions, the reply parser and the VLN metrics (pure, no ROS)."""
