"""`meta.k8s.io/v1` Table responses: how `kubectl get` asks for rows it prints as they come.

kubectl sends `Accept: application/json;as=Table;v=v1;g=meta.k8s.io,...`; lists, single objects and each
watch event's object are then Tables. Rows carry the object's metadata (PartialObjectMetadata) unless the
client asks for the whole object (`includeObject=Object`, used by `--sort-by`). Cells are printed from the storage
form of a converted type (an events.k8s.io/v1 Event prints as its core/v1 self), as Kubernetes' printers print
the internal version whatever version was asked for.
"""

from __future__ import annotations

from typing import Any

from apiserver.registry import conversion_for
from kube import printers
from kube.resources import ResourceType

__all__ = ["table", "wants_table"]

Obj = dict[str, Any]


def wants_table(accept: str | None) -> bool:
    for part in (accept or "").split(","):
        params = {p.split("=", 1)[0].strip(): p.split("=", 1)[1].strip() for p in part.split(";")[1:] if "=" in p}
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io" and params.get("v") in ("v1", "v1beta1"):
            return True
    return False


def _row_object(obj: Obj, include: str) -> Obj:
    if include == "Object":
        return obj
    if include == "None":
        return {}
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {})}


def table(rt: ResourceType, items: list[Obj], resource_version: str | None = None, continue_token: str | None = None,
          include_object: str = "Metadata", with_headers: bool = True) -> Obj:
    columns = printers.columns_for(rt.kind)
    conversion = conversion_for(rt)
    rows = []
    for obj in items:
        printed = conversion.to_storage(obj) if conversion is not None else obj
        cells = []
        for column in columns:
            try:
                cells.append(column.cell(printed))
            except (KeyError, TypeError, ValueError, AttributeError):
                cells.append("<unknown>")  # a malformed object must not break the whole listing
        rows.append({"cells": cells, "object": _row_object(obj, include_object)})
    meta: Obj = {}
    if resource_version:
        meta["resourceVersion"] = resource_version
    if continue_token:
        meta["continue"] = continue_token
    out: Obj = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "rows": rows}
    if with_headers:
        out["columnDefinitions"] = [
            {"name": c.name, "type": c.type, "format": c.format, "description": c.description, "priority": c.priority}
            for c in columns
        ]
    else:
        out["columnDefinitions"] = []
    return out
