"""HTTP access to the apiserver: the client, kubeconfig handling."""

from kube.client import kubeconfig
from kube.client.rest import ApiClient

__all__ = ["ApiClient", "kubeconfig"]
