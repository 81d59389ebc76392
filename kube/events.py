"""Recording Events (`kind: Event`) about an object, as `kubectl describe` shows them.

Recording is best effort: a failure to write an Event is logged, never raised, so it cannot break the
caller's real work.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from kube import errors, timeutil
from kube.client.rest import ApiClient
from kube.resources import EVENTS

__all__ = ["EventRecorder"]

log = logging.getLogger("kube.events")


class EventRecorder:
    def __init__(self, client: ApiClient, component: str, host: str | None = None) -> None:
        self.client = client
        self.component = component
        self.host = host

    async def record(self, obj: dict[str, Any], event_type: str, reason: str, message: str,
                     field_path: str | None = None) -> None:
        """`field_path` names the part of the object the event is about (`spec.containers{web}`), as
        `involvedObject.fieldPath`."""
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        now = timeutil.now()
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{meta.get('name')}.{time.time_ns():x}", "namespace": namespace},
            "involvedObject": {
                "apiVersion": obj.get("apiVersion"),
                "kind": obj.get("kind"),
                "name": meta.get("name"),
                "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
                **({"fieldPath": field_path} if field_path else {}),
            },
            "reason": reason,
            "message": message,
            "type": event_type,
            "source": {"component": self.component, **({"host": self.host} if self.host else {})},
            "reportingComponent": self.component,
            "reportingInstance": self.host or "",
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            await self.client.create(EVENTS, event, namespace)
        except errors.ApiError as exc:
            log.warning("could not record event %s on %s/%s: %s", reason, namespace, meta.get("name"), exc)
