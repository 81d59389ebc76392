"""Output of `klite get`: kubectl's plain aligned columns, `-o name`, `-o yaml`, `-o json`.

Columns come from `kube.printers` (the same definitions the apiserver's Table responses use), so every
resource type the shared table knows prints like kubectl without code here. Tables are plain text (no colour,
no box): three spaces between columns, uppercase headers, no trailing blanks — greppable when piped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import yaml

from cli.context import type_prefix
from kube import printers
from kube.resources import ResourceType

__all__ = ["OUTPUTS", "Table", "as_list", "dump", "name_of", "table_for", "with_type"]

Obj = dict[str, Any]
OUTPUTS = ("wide", "yaml", "json", "name")
GAP = 3  # kubectl's tabwriter padding


def name_of(rt: ResourceType, obj: Obj) -> str:
    """`pod/demo`, `deployment.apps/web`: the `-o name` form."""
    return f"{type_prefix(rt)}/{obj['metadata']['name']}"


def _cell(column: printers.Column, obj: Obj) -> str:
    try:
        value = column.cell(obj)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        return "<unknown>"  # one malformed object must not break the listing
    if value is None or value == "":
        return "<none>" if column.name != "Message" else ""
    return str(value)


class Table:
    """Rows of one resource type, printed with kubectl's column widths."""

    def __init__(self, rt: ResourceType, *, wide: bool = False, with_namespace: bool = False,
                 with_kind: bool = False, show_labels: bool = False) -> None:
        self.rt = rt
        self.columns = [c for c in printers.columns_for(rt.kind) if wide or c.priority == 0]
        self.with_namespace = with_namespace
        self.with_kind = with_kind
        self.show_labels = show_labels
        self.widths: list[int] = []

    def header(self) -> list[str]:
        names = [c.name.upper() for c in self.columns]
        if self.with_namespace:
            names.insert(0, "NAMESPACE")
        if self.show_labels:
            names.append("LABELS")
        return names

    def row(self, obj: Obj) -> list[str]:
        cells = [_cell(c, obj) for c in self.columns]
        if self.with_kind and self.columns and self.columns[0].name == "Name":
            cells[0] = name_of(self.rt, obj)
        if self.with_namespace:
            cells.insert(0, obj["metadata"].get("namespace") or "")
        if self.show_labels:
            labels = obj["metadata"].get("labels") or {}
            cells.append(",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "<none>")
        return cells

    def format(self, rows: Iterable[list[str]]) -> list[str]:
        """Aligned lines; widths only grow, so rows printed later (watch) stay under their header."""
        rows = list(rows)
        for row in rows:
            if len(self.widths) < len(row):
                self.widths += [0] * (len(row) - len(self.widths))
            self.widths = [max(w, len(cell)) for w, cell in zip(self.widths, row, strict=False)]
        lines = []
        for row in rows:
            padded = [cell.ljust(self.widths[i] + GAP) for i, cell in enumerate(row[:-1])]
            lines.append(("".join(padded) + (row[-1] if row else "")).rstrip())
        return lines

    def render(self, objects: Iterable[Obj], *, headers: bool = True) -> str:
        rows = [self.row(obj) for obj in objects]
        return "\n".join(self.format(([self.header()] if headers else []) + rows))


def table_for(rt: ResourceType, objects: list[Obj], **options: bool) -> str:
    """The whole table for `objects` (header first)."""
    return Table(rt, **options).render(objects)


def with_type(rt: ResourceType, obj: Obj) -> Obj:
    """List items come without apiVersion/kind; printed objects carry them first, as kubectl's do."""
    return {"apiVersion": rt.api_version, "kind": rt.kind, **{k: v for k, v in obj.items()
                                                              if k not in ("apiVersion", "kind")}}


def as_list(items: list[Obj]) -> Obj:
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}


class _Dumper(yaml.SafeDumper):
    """Quotes the way kubectl's YAML does ("2026-01-01T00:00:00Z", "6"), never folds long lines."""

    def choose_scalar_style(self) -> str:
        style = super().choose_scalar_style()
        if style == "'" and self.event is not None and '"' not in str(self.event.value):
            return '"'
        return style


def dump(value: Obj, output: str) -> str:
    """`-o yaml` / `-o json` text of one object or a List."""
    if output == "json":
        return json.dumps(value, indent=4)
    return yaml.dump(value, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                     width=float("inf")).rstrip("\n")
