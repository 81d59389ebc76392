"""klite: the kubectl-like command line for kubelite."""
