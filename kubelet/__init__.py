"""kubelet daemon."""
