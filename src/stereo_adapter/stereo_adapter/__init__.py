"""stereo_adapter."""
