"""Kinds with no rules beyond their model's types and valid metadata (Events, Leases)."""

from __future__ import annotations

from typing import ClassVar

from apiserver.registry.base import Strategy
from kube.models import Event, KubeModel, Lease


class EventStrategy(Strategy):
    model: ClassVar[type[KubeModel] | None] = Event


class LeaseStrategy(Strategy):
    model: ClassVar[type[KubeModel] | None] = Lease
