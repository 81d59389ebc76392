"""scheduler daemon."""
