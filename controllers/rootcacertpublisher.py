"""Root CA publisher: every active namespace has the ConfigMap `kube-root-ca.crt` holding the cluster CA
(`ca.crt`), which pods' API access volumes mount to trust the apiserver (Kubernetes' root-ca-cert-publisher).

The CA is --root-ca-file, else the one the controller-manager's own kubeconfig trusts; without either (a
plain-HTTP cluster) the controller has nothing to publish and stays idle.
"""

from __future__ import annotations

import contextlib
import logging
from typing import ClassVar

from controllers.base import Controller
from controllers.context import ControllerContext
from kube import errors
from kube.informer import Handler
from kube.resources import CONFIGMAPS, NAMESPACES, ResourceType

__all__ = ["NAME", "RootCACertPublisher"]

log = logging.getLogger("controllers.rootcacertpublisher")

NAME = "kube-root-ca.crt"
DESCRIPTION = "kubernetes.io/description"
_DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints "
                "such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across "
                "distributions of Kubernetes clusters.")


class RootCACertPublisher(Controller):
    name: ClassVar[str] = "root-ca-cert-publisher"
    primary: ClassVar[ResourceType | None] = NAMESPACES
    watches: ClassVar[tuple[ResourceType, ...]] = (CONFIGMAPS,)

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.ca: str = ctx.option("root_ca", "")
        self.configmaps = ctx.informers.informer(CONFIGMAPS)

        def changed(cm: dict) -> None:
            if cm["metadata"]["name"] == NAME:
                self.queue.add(cm["metadata"]["namespace"])

        self.configmaps.add_handler(Handler(on_update=lambda _old, new: changed(new), on_delete=changed))

    async def sync(self, key: str) -> None:
        if not self.ca:
            return
        ns = self.informer.get(key)
        if ns is None or ns["metadata"].get("deletionTimestamp"):
            return
        current = self.configmaps.get(f"{key}/{NAME}")
        if current is not None and (current.get("data") or {}).get("ca.crt") == self.ca:
            return
        body = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": NAME, "namespace": key, "annotations": {DESCRIPTION: _DESCRIPTION}},
                "data": {"ca.crt": self.ca}}
        # Forbidden/NotFound: the namespace is going away; Conflict: changed meanwhile, the next event retries.
        with contextlib.suppress(errors.AlreadyExists, errors.Forbidden, errors.NotFound, errors.Conflict):
            if current is None:
                await self.client.create(CONFIGMAPS, body, key)
            else:
                meta = {**current["metadata"], "annotations": {**(current["metadata"].get("annotations") or {}),
                                                               DESCRIPTION: _DESCRIPTION}}
                await self.client.replace(CONFIGMAPS, {**current, "metadata": meta, "data": {"ca.crt": self.ca}})
