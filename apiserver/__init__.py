"""apiserver daemon."""
