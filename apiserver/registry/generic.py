"""Kinds with few rules beyond their model's types and valid metadata: Events, Leases, ControllerRevisions."""

from __future__ import annotations

from typing import Any, ClassVar

from apiserver import validation as v
from apiserver.registry.base import Strategy
from kube import errors
from kube.models import Event, KubeModel, Lease
from kube.models.apps import ControllerRevision

#: pkg/apis/core/validation/events.go: the limits on an Event's strings, in bytes.
_EVENT_LIMITS = {"reportingInstance": 128, "action": 128, "reason": 128, "message": 1024}


class EventStrategy(Strategy):
    """core/v1 Events as Kubernetes' legacyValidateEvent checks them (types and times come from the model).

    An Event without `eventTime` is an old-style one (client-go's recorder, ours): only its namespace must agree
    with `involvedObject`'s. One with `eventTime` must name who reported it, its action and reason, within limits.
    Kubernetes checks `type` only for events.k8s.io/v1, which is not served, so core/v1 takes any.
    """

    model: ClassVar[type[KubeModel] | None] = Event

    def decode(self, obj: dict[str, Any], field_validation: str = "Warn") -> tuple[dict[str, Any], list[str]]:
        """The fields Go always writes for a core/v1 Event: `reportingComponent` and `reportingInstance` have no
        omitempty (""), `firstTimestamp`, `lastTimestamp` and `eventTime` are Time structs (null when unset),
        and `source` is an EventSource struct (`{}`)."""
        decoded, warnings = super().decode(obj, field_validation)
        for field in ("reportingComponent", "reportingInstance"):
            decoded.setdefault(field, "")
        for field in ("firstTimestamp", "lastTimestamp", "eventTime"):
            decoded.setdefault(field, None)
        decoded.setdefault("source", {})
        return decoded, warnings

    def validate(self, obj: dict[str, Any]) -> list[errors.Cause]:
        causes = self.validate_metadata(obj)
        namespace = (obj.get("metadata") or {}).get("namespace") or ""
        involved = (obj.get("involvedObject") or {}).get("namespace") or ""
        mismatch = v.invalid("involvedObject.namespace", involved, "does not match event.namespace")
        if not obj.get("eventTime"):
            # an old client's event about a cluster-scoped object may sit in "default"
            agrees = namespace in ("", "default") if not involved else namespace == involved
            return causes if agrees else [*causes, mismatch]
        if not involved and namespace not in ("default", "kube-system"):
            causes.append(mismatch)
        component = obj.get("reportingComponent") or ""
        causes += v.label_key(component, "reportingComponent") if component else [v.required("reportingComponent")]
        for field, limit in _EVENT_LIMITS.items():
            value = obj.get(field) or ""
            if not value and field != "message":
                causes.append(v.required(field))
            elif len(value.encode()) > limit:
                causes.append(v.invalid(field, "", f"can have at most {limit} characters"))
        return causes


class LeaseStrategy(Strategy):
    model: ClassVar[type[KubeModel] | None] = Lease

    def decode(self, obj: dict[str, Any], field_validation: str = "Warn") -> tuple[dict[str, Any], list[str]]:
        decoded, warnings = super().decode(obj, field_validation)
        decoded.setdefault("spec", {})  # LeaseSpec is a struct: Go writes `spec: {}` when it is empty
        return decoded, warnings


class ControllerRevisionStrategy(Strategy):
    """A snapshot of a DaemonSet's or StatefulSet's template: its data never changes once written."""

    model: ClassVar[type[KubeModel] | None] = ControllerRevision

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[errors.Cause]:
        causes = self.validate(new)
        if new.get("data") != old.get("data"):
            causes.append(v.invalid("data", "<data>", "field is immutable"))
        return causes
