"""Field selectors (`?fieldSelector=spec.nodeName=n1,status.phase!=Failed`) over dotted paths.

Parsed as apimachinery's `fields.ParseSelector` does it: terms split on commas not escaped with a backslash, each
term split at its first `!=`, `==` or `=`, the value unescaped (`\\,`, `\\=`, `\\\\`; an unescaped `,` or `=` left in
a value is an error, so `metadata.name==a==b` is refused), no whitespace trimmed, terms sorted. Which field names a
resource supports is a per-kind list (`supported`), as Kubernetes' field label conversion functions keep it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["FieldSelector", "check_supported", "escape_value", "get_path", "parse", "supported"]


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

    def empty(self) -> bool:
        return not self.terms

    def __str__(self) -> str:
        return ",".join(f"{p}{'=' if equal else '!='}{escape_value(v)}" for p, equal, v in self.terms)


def escape_value(value: str) -> str:
    """EscapeValue: a literal value made safe to put after `=` in a field selector."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _unescape(value: str) -> str:
    """UnescapeValue, with its error messages (Go prints the offending rune as a number)."""
    if not any(c in value for c in "\\,="):
        return value
    out: list[str] = []
    in_slash = False
    for c in value:
        if in_slash:
            if c not in "\\,=":
                raise ValueError(f"invalid field selector: invalid escape sequence: \\{c}")
            out.append(c)
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c in ",=":
            raise ValueError(f"invalid field selector: unescaped character in value: {ord(c)}")
        else:
            out.append(c)
    if in_slash:
        raise ValueError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _split_terms(text: str) -> list[str]:
    terms, start, in_slash = [], 0, False
    for i, c in enumerate(text):
        if in_slash:
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    """(lhs, operator, raw rhs) at the first operator; `!=` and `==` win over `=` at the same place."""
    for i in range(len(term)):
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op):]
    return None


def parse(text: str | None) -> FieldSelector:
    """Parse `?fieldSelector=` as Kubernetes does; ValueError with Kubernetes' message when it is invalid."""
    if not text:
        return FieldSelector()
    terms = []
    for part in sorted(_split_terms(text)):
        if not part:
            continue
        split = _split_term(part)
        if split is None:
            raise ValueError(f"invalid selector: '{text}'; can't understand '{part}'")
        lhs, op, rhs = split
        terms.append((lhs, op != "!=", _unescape(rhs)))
    return FieldSelector(tuple(terms))


_META = ("metadata.name", "metadata.namespace")

#: kind -> the field labels its list/watch accept (Kubernetes' AddFieldLabelConversionFunc per kind); every other
#: kind takes metadata.name and metadata.namespace (DefaultMetaV1FieldSelectorConversion).
_SUPPORTED: dict[str, tuple[str, ...]] = {
    "Pod": (*_META, "spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
            "spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs", "status.nominatedNodeName"),
    "Node": ("metadata.name", "spec.unschedulable"),
    "Event": (*_META, "involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
              "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason",
              "reportingComponent", "source", "type"),
    "Namespace": ("metadata.name", "status.phase"),
    "Secret": (*_META, "type"),
    "Service": (*_META, "spec.clusterIP", "spec.type"),
    "ReplicaSet": (*_META, "status.replicas"),
    "Job": (*_META, "status.successful"),
}


def supported(kind: str) -> tuple[str, ...]:
    """The field labels a kind's list and watch accept."""
    return _SUPPORTED.get(kind, _META)


def check_supported(kind: str, selector: FieldSelector) -> None:
    """ValueError `field label not supported: X` (a 400 in Kubernetes) for a term on a field the kind lacks."""
    allowed = supported(kind)
    for path, _, _ in selector.terms:
        if path not in allowed:
            raise ValueError(f"field label not supported: {path}")
