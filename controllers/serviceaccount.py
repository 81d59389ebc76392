"""ServiceAccount controller: every active namespace has a `default` ServiceAccount."""

from __future__ import annotations

import contextlib
from typing import ClassVar

from controllers.base import Controller
from controllers.context import ControllerContext
from kube import errors
from kube.informer import Handler
from kube.resources import NAMESPACES, SERVICEACCOUNTS, ResourceType

__all__ = ["ServiceAccountController"]

DEFAULT = "default"


class ServiceAccountController(Controller):
    name: ClassVar[str] = "serviceaccount"
    primary: ClassVar[ResourceType | None] = NAMESPACES
    watches: ClassVar[tuple[ResourceType, ...]] = (SERVICEACCOUNTS,)

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.accounts = ctx.informers.informer(SERVICEACCOUNTS)
        # A deleted default account is made again.
        self.accounts.add_handler(Handler(on_delete=lambda sa: self.queue.add(sa["metadata"]["namespace"])))

    async def sync(self, key: str) -> None:
        ns = self.informer.get(key)
        if ns is None or ns["metadata"].get("deletionTimestamp"):
            return
        if self.accounts.get(f"{key}/{DEFAULT}") is not None:
            return
        # AlreadyExists: made meanwhile; Forbidden/NotFound: the namespace is going away.
        with contextlib.suppress(errors.AlreadyExists, errors.Forbidden, errors.NotFound):
            await self.client.create(SERVICEACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                                       "metadata": {"name": DEFAULT, "namespace": key}}, key)
