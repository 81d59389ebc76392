"""events.k8s.io/v1 Event, as k8s.io/api/events/v1 types it.

The same Events as core/v1's, in newer field names (regarding, note, reportingController, deprecated*): the
apiserver stores core/v1 Events only and serves this version by converting each object
(`apiserver.registry.events`), as Kubernetes does.
"""

from __future__ import annotations

from pydantic import Field

from kube.models.base import Int32, MicroTime, Time
from kube.models.core import EventSeries, EventSource
from kube.models.meta import ObjectReference, TypedObject

__all__ = ["Event"]


class Event(TypedObject):
    event_time: MicroTime | None = None
    series: EventSeries | None = None
    reporting_controller: str | None = None
    reporting_instance: str | None = None
    action: str | None = None
    reason: str | None = None
    regarding: ObjectReference = Field(default_factory=ObjectReference)
    related: ObjectReference | None = None
    note: str | None = None
    type: str | None = None
    deprecated_source: EventSource = Field(default_factory=EventSource)
    deprecated_first_timestamp: Time | None = None
    deprecated_last_timestamp: Time | None = None
    deprecated_count: Int32 | None = None
