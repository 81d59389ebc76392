"""Kinds with no rules beyond their model's types and valid metadata."""

from __future__ import annotations

from typing import Any, ClassVar

from apiserver import validation as v
from apiserver.registry.base import Strategy
from kube import errors
from kube.models import Event, KubeModel, Lease
from kube.models.apps import ControllerRevision


class EventStrategy(Strategy):
    model: ClassVar[type[KubeModel] | None] = Event


class LeaseStrategy(Strategy):
    model: ClassVar[type[KubeModel] | None] = Lease


class ControllerRevisionStrategy(Strategy):
    """A snapshot of a DaemonSet's or StatefulSet's template: its data never changes once written."""

    model: ClassVar[type[KubeModel] | None] = ControllerRevision

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[errors.Cause]:
        causes = self.validate(new)
        if new.get("data") != old.get("data"):
            causes.append(v.invalid("data", "<data>", "field is immutable"))
        return causes
