"""controllers daemon."""
