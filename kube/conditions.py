"""Status conditions, with the one rule every Kubernetes component keeps: a condition's
lastTransitionTime changes only when its status changes (a new reason or message is not a transition).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["find", "in_status", "set_condition", "transition_time"]

Obj = dict[str, Any]


def find(conditions: Iterable[Obj] | None, ctype: str) -> Obj | None:
    """The condition of type `ctype`, if any."""
    return next((c for c in conditions or () if c.get("type") == ctype), None)


def in_status(obj: Mapping[str, Any] | None, ctype: str) -> Obj | None:
    """The condition of type `ctype` in an object's (or a status's) `conditions`."""
    if not obj:
        return None
    inner = obj.get("status")
    status: Mapping[str, Any] = inner if isinstance(inner, Mapping) else obj
    return find(status.get("conditions"), ctype)


def transition_time(previous: Obj | None, status: str, now: str) -> str:
    """The lastTransitionTime of a condition now at `status`: kept from `previous` if its status was the same."""
    if previous is not None and previous.get("status") == status and previous.get("lastTransitionTime"):
        return str(previous["lastTransitionTime"])
    return now


def set_condition(conditions: Iterable[Obj] | None, condition: Obj, now: str) -> list[Obj]:
    """`conditions` with `condition` in place of the one of its type (appended if new), its
    lastTransitionTime set by the rule above."""
    current = list(conditions or ())
    previous = find(current, condition["type"])
    new = {**condition, "lastTransitionTime": transition_time(previous, condition["status"], now)}
    if previous is None:
        return [*current, new]
    return [new if c is previous else c for c in current]
