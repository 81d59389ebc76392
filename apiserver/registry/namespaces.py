"""Namespaces: names are DNS labels; a new namespace is Active."""

from __future__ import annotations

from typing import Any

from apiserver.registry.base import Strategy
from kube.models import Namespace

Obj = dict[str, Any]


class NamespaceStrategy(Strategy):
    model = Namespace
    status_subresource = True
    name_is_label = True

    def prepare_for_create(self, obj: Obj) -> None:
        obj["status"] = {"phase": "Active"}
