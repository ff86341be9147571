"""Test utilities shipped with the core: tiny models and fakes that tests and demos build offline."""
