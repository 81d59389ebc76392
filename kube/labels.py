"""Label selectors: the string form of `?labelSelector=` and the structured form in specs.

Grammar as in Kubernetes: comma-separated requirements, each `k`, `!k`, `k=v`, `k==v`, `k!=v`,
`k in (a,b)`, `k notin (a,b)`. All requirements must hold.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Requirement", "Selector", "from_label_selector", "matches", "parse"]

_TOKEN = re.compile(r"\s*(\(|\)|,|!=|==|=|!|[^\s(),!=]+)")


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # In, NotIn, Exists, DoesNotExist, Equals, NotEquals
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.operator == "Exists":
            return present
        if self.operator == "DoesNotExist":
            return not present
        if self.operator in ("In", "Equals"):
            return present and value in self.values
        if self.operator in ("NotIn", "NotEquals"):
            return not present or value not in self.values
        if self.operator in ("Gt", "Lt"):
            try:
                number, bound = int(value or ""), int(self.values[0])
            except ValueError:
                return False
            return number > bound if self.operator == "Gt" else number < bound
        raise ValueError(f"unknown operator {self.operator}")


@dataclass(frozen=True)
class Selector:
    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def empty(self) -> bool:
        return not self.requirements


def parse(text: str | None) -> Selector:
    """Parse `?labelSelector=`; ValueError with a readable message on bad syntax."""
    if not text or not text.strip():
        return Selector()
    tokens = _TOKEN.findall(text)
    if "".join(tokens) != re.sub(r"\s+", "", text):
        raise ValueError(f"unable to parse requirement: {text!r}")
    requirements: list[Requirement] = []
    i = 0

    def expect(tok: str) -> None:
        nonlocal i
        if i >= len(tokens) or tokens[i] != tok:
            raise ValueError(f"unable to parse requirement: expected {tok!r} in {text!r}")
        i += 1

    while i < len(tokens):
        if tokens[i] == "!":
            i += 1
            if i >= len(tokens):
                raise ValueError(f"unable to parse requirement: missing key after '!' in {text!r}")
            requirements.append(Requirement(_key(tokens[i]), "DoesNotExist"))
            i += 1
        else:
            key = _key(tokens[i])
            i += 1
            op = tokens[i] if i < len(tokens) else ","
            if op == ",":
                requirements.append(Requirement(key, "Exists"))
            elif op in ("=", "==", "!="):
                i += 1
                value = tokens[i] if i < len(tokens) and tokens[i] not in (",", "(", ")") else ""
                if value:
                    i += 1
                requirements.append(Requirement(key, "NotEquals" if op == "!=" else "Equals", (value,)))
            elif op in ("in", "notin"):
                i += 1
                expect("(")
                values: list[str] = []
                while i < len(tokens) and tokens[i] != ")":
                    if tokens[i] != ",":
                        values.append(tokens[i])
                    i += 1
                expect(")")
                requirements.append(Requirement(key, "In" if op == "in" else "NotIn", tuple(values)))
            else:
                raise ValueError(f"unable to parse requirement: unexpected {op!r} in {text!r}")
        if i < len(tokens):
            expect(",")
    return Selector(tuple(requirements))


def _key(token: str) -> str:
    if token in ("(", ")", ",", "=", "==", "!=", "!"):
        raise ValueError(f"unable to parse requirement: expected a label key, found {token!r}")
    return token


def from_label_selector(selector: Mapping[str, Any] | None) -> Selector:
    """The structured `{matchLabels, matchExpressions}` form. None or {} selects everything."""
    if not selector:
        return Selector()
    reqs = [Requirement(k, "Equals", (v,)) for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        reqs.append(Requirement(expr["key"], expr["operator"], tuple(expr.get("values") or ())))
    return Selector(tuple(reqs))


def matches(text: str | None, labels: Mapping[str, str] | None) -> bool:
    return parse(text).matches(labels)
