"""events.k8s.io/v1 Events: the core/v1 Events, served in the newer version's field names.

One storage, two versions, as in Kubernetes: the objects are core/v1 Events in etcd (and in the one watch cache), and
`CONVERSION` turns each into its events.k8s.io/v1 form and back, field for field as Convert_v1_Event_To_core_Event
and Convert_core_Event_To_v1_Event do (pkg/apis/events/v1/conversion.go):

    regarding <-> involvedObject            note <-> message
    reportingController <-> reportingComponent
    deprecatedSource <-> source             deprecatedCount <-> count
    deprecatedFirstTimestamp <-> firstTimestamp, deprecatedLastTimestamp <-> lastTimestamp
    eventTime, series, action, related, reason, type, reportingInstance, metadata: the same

So an Event written by a kubelet through core/v1 is listed and watched through events.k8s.io/v1, and the other
way round. Writes through events.k8s.io/v1 get that version's stricter checks (ValidateEventCreate/Update with
the request's group-version): an eventTime, a type of Normal or Warning, none of the deprecated fields, and on update
only the series and metadata may change. Field selectors are matched on the served form, which is what Kubernetes'
field label conversion for this version amounts to (`regarding.name` is `involvedObject.name`, ...).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from apiserver import validation as v
from apiserver.registry.base import Strategy
from apiserver.registry.conversion import Conversion
from apiserver.registry.generic import EventStrategy
from kube import errors
from kube.models import KubeModel
from kube.models import events as models
from kube.resources import EVENTS, EVENTS_V1

__all__ = ["CONVERSION", "EventsV1EventStrategy", "from_core", "to_core"]

Obj = dict[str, Any]
Causes = list[errors.Cause]

EVENT_TYPES = ("Normal", "Warning")
#: events.k8s.io/v1 field -> core/v1 field, where the names differ
_RENAMED = {"regarding": "involvedObject", "note": "message", "reportingController": "reportingComponent",
            "deprecatedSource": "source", "deprecatedFirstTimestamp": "firstTimestamp",
            "deprecatedLastTimestamp": "lastTimestamp", "deprecatedCount": "count"}
#: what ValidateEventUpdate keeps immutable for events.k8s.io/v1 writes, in its order and (internal) field names
_IMMUTABLE = ("involvedObject", "reason", "message", "source", "firstTimestamp", "lastTimestamp", "count", "type",
              "eventTime", "action", "related", "reportingComponent", "reportingInstance")
#: the internal (and Kubernetes' error) name of core/v1's reportingComponent
_FIELD_NAMES = {"reportingComponent": "reportingController"}


def to_core(event: Obj) -> Obj:
    """An events.k8s.io/v1 Event as the core/v1 Event it is stored as, with the fields Go always writes."""
    core: Obj = {"kind": "Event", "apiVersion": EVENTS.api_version, "metadata": dict(event.get("metadata") or {}),
                 "involvedObject": event.get("regarding") or {}}
    for field in ("reason", "note"):
        if event.get(field):
            core[_RENAMED.get(field, field)] = event[field]
    core["source"] = event.get("deprecatedSource") or {}
    core["firstTimestamp"] = event.get("deprecatedFirstTimestamp")
    core["lastTimestamp"] = event.get("deprecatedLastTimestamp")
    for field in ("deprecatedCount", "type"):
        if event.get(field):
            core[_RENAMED.get(field, field)] = event[field]
    core["eventTime"] = event.get("eventTime")
    for field in ("series", "action", "related"):
        if event.get(field):
            core[field] = event[field]
    core["reportingComponent"] = event.get("reportingController") or ""
    core["reportingInstance"] = event.get("reportingInstance") or ""
    return core


def from_core(core: Obj) -> Obj:
    """A stored core/v1 Event in its events.k8s.io/v1 form (fields in k8s.io/api's order; Go writes eventTime,
    regarding, deprecatedSource and the two deprecated timestamps even when they are empty)."""
    event: Obj = {"kind": "Event", "apiVersion": EVENTS_V1.api_version, "metadata": dict(core.get("metadata") or {}),
                  "eventTime": core.get("eventTime")}
    if core.get("series"):
        event["series"] = core["series"]
    for field in ("reportingController", "reportingInstance", "action", "reason"):
        if core.get(_RENAMED.get(field, field)):
            event[field] = core[_RENAMED.get(field, field)]
    event["regarding"] = core.get("involvedObject") or {}
    if core.get("related"):
        event["related"] = core["related"]
    for field in ("note", "type"):
        if core.get(_RENAMED.get(field, field)):
            event[field] = core[_RENAMED.get(field, field)]
    event["deprecatedSource"] = core.get("source") or {}
    event["deprecatedFirstTimestamp"] = core.get("firstTimestamp")
    event["deprecatedLastTimestamp"] = core.get("lastTimestamp")
    if core.get("count"):
        event["deprecatedCount"] = core["count"]
    return event


CONVERSION = Conversion(storage=EVENTS, to_storage=to_core, from_storage=from_core)


def _series(event: Obj) -> Causes:
    """validateV1EventSeries."""
    series = event.get("series")
    if series is None:
        return []
    causes: Causes = []
    if (series.get("count") or 0) < 2:
        causes.append(v.invalid("series.count", "", "should be at least 2"))
    if not series.get("lastObservedTime"):
        causes.append(v.required("series.lastObservedTime"))
    return causes


class EventsV1EventStrategy(EventStrategy):
    """Decodes the events.k8s.io/v1 form; validates and stores the core/v1 form `CONVERSION` makes of it, with
    core/v1's rules plus the strict ones Kubernetes applies to writes through events.k8s.io/v1."""

    model: ClassVar[type[KubeModel] | None] = models.Event

    def decode(self, obj: Obj, field_validation: str = "Warn") -> tuple[Obj, list[str]]:
        decoded, warnings = Strategy.decode(self, obj, field_validation)  # not core/v1's shaping: this is the
        decoded.setdefault("regarding", {})  # served form, whose structs and times Go always writes
        decoded.setdefault("deprecatedSource", {})
        for field in ("eventTime", "deprecatedFirstTimestamp", "deprecatedLastTimestamp"):
            decoded.setdefault(field, None)
        return decoded, warnings

    def validate(self, obj: Obj) -> Causes:
        causes = super().validate(obj) + _series(obj)
        if not obj.get("eventTime"):
            causes.append(v.required("eventTime"))
        if obj.get("type") not in EVENT_TYPES:
            causes.append(v.invalid("type", "", f"has invalid value: {obj.get('type') or ''}"))
        for field in ("firstTimestamp", "lastTimestamp", "count"):
            if obj.get(field):
                causes.append(v.invalid(field, "", "needs to be unset"))
        source = obj.get("source") or {}
        if source.get("component") or source.get("host"):
            causes.append(v.invalid("source", "", "needs to be unset"))
        return causes

    def validate_update(self, new: Obj, old: Obj) -> Causes:
        causes = EventStrategy.validate(self, new)
        if new.get("series") != old.get("series"):
            causes += _series(new)
        for field in _IMMUTABLE:
            if new.get(field) != old.get(field):
                causes.append(_immutable(_FIELD_NAMES.get(field, field), new.get(field)))
        return causes


def _immutable(field: str, value: Any) -> errors.Cause:
    """ValidateImmutableField's cause, the new value shown as JSON."""
    if isinstance(value, str | int) or value is None:
        return v.invalid(field, "" if value is None else value, "field is immutable")
    return {"reason": "FieldValueInvalid", "field": field,
            "message": f"Invalid value: {json.dumps(value, separators=(',', ':'))}: field is immutable"}
