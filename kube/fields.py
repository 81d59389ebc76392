"""Field selectors (`?fieldSelector=spec.nodeName=n1,status.phase!=Failed`) over dotted paths."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["FieldSelector", "get_path", "parse"]


def get_path(obj: Mapping[str, Any], path: str) -> str:
    """The value at a dotted path as a string, "" when absent (how Kubernetes compares fields)."""
    value: Any = obj
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return ""
        value = value.get(part)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class FieldSelector:
    terms: tuple[tuple[str, bool, str], ...] = ()  # (path, equal?, value)

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all((get_path(obj, path) == value) == equal for path, equal, value in self.terms)

    def exact(self, path: str) -> str | None:
        """The value required for `path` by an equality term, if any (lets storage narrow a read)."""
        for p, equal, value in self.terms:
            if p == path and equal:
                return value
        return None


def parse(text: str | None) -> FieldSelector:
    if not text or not text.strip():
        return FieldSelector()
    terms = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        for op, equal in (("!=", False), ("==", True), ("=", True)):
            if op in part:
                path, _, value = part.partition(op)
                if not path:
                    raise ValueError(f"invalid field selector: {part!r}")
                terms.append((path.strip(), equal, value.strip()))
                break
        else:
            raise ValueError(f"invalid selector: {part!r}; can't understand {part!r}")
    return FieldSelector(tuple(terms))
