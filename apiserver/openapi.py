"""OpenAPI v3, enough for kubectl: an index of group-versions, and per group-version a document whose
operations carry `x-kubernetes-group-version-kind` and the `fieldValidation` parameter (kubectl then leaves
field validation to the server), with component schemas generated from the pydantic models (for
`kubectl explain`). `/openapi/v2` is answered 404, which kubectl accepts once v3 exists.
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic.json_schema import models_json_schema

from apiserver import patching
from apiserver.routes import json_response
from kube import errors
from kube.models import MODELS
from kube.resources import RESOURCES, ResourceType

__all__ = ["router"]

router = APIRouter()

_REF = "#/components/schemas/{model}"


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _schema_name(rt: ResourceType) -> str:
    group = rt.group or "core"
    return f"io.k8s.api.{group.split('.')[0]}.{rt.version}.{rt.kind}"


def _mark_merge_lists(model: str, schema: dict[str, Any]) -> None:
    """Tell kubectl which lists merge by key (containers by name, ...), so `apply` diffs them element-wise
    instead of replacing them whole (which would make every re-apply a change)."""
    overrides = patching.MODEL_MERGE_KEYS.get(model, {})
    for name, prop in (schema.get("properties") or {}).items():
        key = overrides[name] if name in overrides else patching.MERGE_KEYS.get(name)
        if key and (prop.get("type") == "array" or "items" in prop):
            prop["x-kubernetes-patch-merge-key"] = key
            prop["x-kubernetes-patch-strategy"] = "merge"
            prop["x-kubernetes-list-type"] = "map"
            prop["x-kubernetes-list-map-keys"] = [key]


def _drop_nullable(schema: dict[str, Any]) -> None:
    """pydantic writes an optional field as `anyOf: [X, {type: null}]`; Kubernetes' schemas (and kubectl's
    walker, which follows `allOf` to a `$ref`) have just X. Rewrite in place."""
    for name, prop in list((schema.get("properties") or {}).items()):
        options = prop.get("anyOf")
        if not options:
            continue
        kept = [o for o in options if o.get("type") != "null"]
        if len(kept) != 1:
            continue
        extra = {k: val for k, val in prop.items() if k not in ("anyOf", "default", "title")}
        only = kept[0]
        schema["properties"][name] = {**extra, "allOf": [only]} if "$ref" in only else {**extra, **only}


def _operations(rt: ResourceType, schema_ref: str) -> dict[str, Any]:
    gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
    body = {"content": {"application/json": {"schema": {"$ref": schema_ref}}}}
    ok = {"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": schema_ref}}}}}
    field_validation = {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}}
    common = {"x-kubernetes-group-version-kind": gvk, "responses": ok}
    item: dict[str, Any] = {
        "get": {**common, "x-kubernetes-action": "get"},
        "put": {**common, "x-kubernetes-action": "put", "requestBody": body, "parameters": [field_validation]},
        "patch": {**common, "x-kubernetes-action": "patch", "parameters": [field_validation],
                  "requestBody": {"content": {t: {"schema": {"type": "object"}} for t in (
                      "application/json-patch+json", "application/merge-patch+json",
                      "application/strategic-merge-patch+json", "application/apply-patch+yaml")}}},
        "delete": {**common, "x-kubernetes-action": "delete"},
    }
    collection = {"post": {**common, "x-kubernetes-action": "post", "requestBody": body,
                           "parameters": [field_validation]}}
    base = f"/{_gv_path(rt.group, rt.version)}"
    if rt.namespaced:
        return {f"{base}/namespaces/{{namespace}}/{rt.plural}/{{name}}": item,
                f"{base}/namespaces/{{namespace}}/{rt.plural}": collection}
    return {f"{base}/{rt.plural}/{{name}}": item, f"{base}/{rt.plural}": collection}


@functools.cache
def _document(group: str, version: str) -> bytes:
    members = [r for r in RESOURCES if r.group == group and r.version == version]
    models = [(MODELS[(r.api_version, r.kind)], r) for r in members if (r.api_version, r.kind) in MODELS]
    _, defs = models_json_schema([(m, "validation") for m, _ in models], by_alias=True, ref_template=_REF)
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    for model_name, schema in schemas.items():
        _mark_merge_lists(model_name, schema)
        _drop_nullable(schema)
    paths: dict[str, Any] = {}
    for r in members:
        name = _schema_name(r)
        model = MODELS.get((r.api_version, r.kind))
        if model is not None and model.__name__ in schemas:
            schema = dict(schemas.pop(model.__name__))
        else:
            schema = {"type": "object", "description": f"{r.kind} (schema not published)"}
        schema["x-kubernetes-group-version-kind"] = [{"group": r.group, "version": r.version, "kind": r.kind}]
        schemas[name] = schema
        paths.update(_operations(r, _REF.format(model=name)))
    # Component references still point at pydantic's class names for kinds renamed above.
    text = json.dumps({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.36.0-kubelite"},
                       "paths": paths, "components": {"schemas": schemas}})
    for r in members:
        model = MODELS.get((r.api_version, r.kind))
        if model is not None:
            text = text.replace(f'"{_REF.format(model=model.__name__)}"', f'"{_REF.format(model=_schema_name(r))}"')
    return text.encode()


def _group_versions() -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    for r in RESOURCES:
        if (r.group, r.version) not in seen:
            seen.append((r.group, r.version))
    return seen


@router.get("/openapi/v3", include_in_schema=False)
async def index() -> Response:
    paths = {}
    for group, version in _group_versions():
        digest = hashlib.sha256(_document(group, version)).hexdigest()[:16].upper()
        path = _gv_path(group, version)
        paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return json_response({"paths": paths})


@router.get("/openapi/v3/api/{version}", include_in_schema=False)
async def core_document(version: str) -> Response:
    return _serve("", version)


@router.get("/openapi/v3/apis/{group}/{version}", include_in_schema=False)
async def group_document(group: str, version: str) -> Response:
    return _serve(group, version)


def _serve(group: str, version: str) -> Response:
    if (group, version) not in _group_versions():
        raise errors.NotFound(f"the server could not find the requested resource ({_gv_path(group, version)})")
    return Response(_document(group, version), media_type="application/json",
                    headers={"Cache-Control": "public, immutable"})
