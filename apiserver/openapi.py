"""OpenAPI v3 as Kubernetes serves it: an index of group-versions (`/openapi/v3`) and one document per
group-version (`/openapi/v3/apis/GROUP/VERSION`, `/openapi/v3/api/v1`).

Each document declares what this apiserver serves, laid out as Kubernetes' own documents are, so that kubectl
(apply's validation, explain, client-side apply's merge keys) and generators and fuzzers (schemathesis) can use it:

- per resource the collection path (`list` with its `watch` query parameter, `post`, `deletecollection`), the
  object path with `{namespace}` and `{name}` parameters (`get`, `put`, `patch`, `delete`), the cluster-wide list
  of a namespaced resource, and the served subresources (status, scale, binding, eviction, log, finalize);
- operationIds, tags, `x-kubernetes-action` and `x-kubernetes-group-version-kind` named as Kubernetes names them;
- Kubernetes' query parameters per verb, the request bodies (patch with its four content types), the 200/201/202
  answers and the error codes, which are always a `Status`;
- component schemas from the pydantic models, under Kubernetes' names for the kinds (`io.k8s.api.core.v1.Pod`),
  with merge keys marked for strategic merge patch, plus the list kinds, Status, DeleteOptions and Patch.

Where Kubernetes' documents differ from what is served, the document follows what is served: bodies and answers are
JSON (and YAML in), a JSON patch body is declared as the array of operations it is, an apply patch as the kind, and
delete answers the object (Kubernetes documents a Status for most kinds).

`/openapi/v2` is the same in Swagger 2.0, as older clients and `kubectl explain`'s v2 fallback read it: one document
for every group-version (`definitions` from all the v3 schemas, `#/definitions/` references, parameters with inline
types, a `body` parameter for request bodies, one schema per answer, `consumes`/`produces`), with the same
operationIds, `x-kubernetes-action`, `x-kubernetes-group-version-kind` and patch merge keys. It is served as JSON;
a client that accepts only its protobuf form (application/com.github.proto-openapi.spec.v2@v1.0+protobuf) gets
406 Not Acceptable and falls back.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic.json_schema import models_json_schema

from apiserver import patching
from apiserver.routes import json_response
from kube import errors
from kube.models import MODELS
from kube.resources import RESOURCES, ResourceType

__all__ = ["document", "document_v2", "group_versions", "router"]

router = APIRouter()

_REF = "#/components/schemas/{model}"
_META = "io.k8s.apimachinery.pkg.apis.meta.v1"
Json = dict[str, Any]

#: subresource -> (group, version, kind) of its body, None for the parent's own kind
_SUB_KINDS: dict[str, tuple[str, str, str] | None] = {
    "status": None, "finalize": None,
    "scale": ("autoscaling", "v1", "Scale"),
    "binding": ("", "v1", "Binding"),
    "eviction": ("policy", "v1", "Eviction"),
}


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _schema_name(group: str, version: str, kind: str) -> str:
    """Kubernetes' component name of a kind: io.k8s.api.{first label of the group, core}.{version}.{kind}."""
    return f"io.k8s.api.{(group or 'core').split('.')[0]}.{version}.{kind}"


def _ref(name: str) -> Json:
    return {"$ref": _REF.format(model=name)}


def _gvk(group: str, version: str, kind: str) -> Json:
    return {"group": group, "kind": kind, "version": version}


def _op_group(group: str) -> str:
    """How operationIds spell a group: core, apps, rbacAuthorization (rbac.authorization.k8s.io), coordination."""
    parts = (group.removesuffix(".k8s.io") or "core").split(".")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


# ---------------------------------------------------------------- parameters, as Kubernetes describes them

def _query(name: str, kind: str, description: str) -> Json:
    return {"name": name, "in": "query", "description": description, "schema": {"type": kind, "uniqueItems": True}}


_Q: dict[str, Json] = {q["name"]: q for q in (
    _query("pretty", "string", "If 'true', then the output is pretty printed."),
    _query("allowWatchBookmarks", "boolean", 'allowWatchBookmarks requests watch events with type "BOOKMARK".'),
    _query("continue", "string", "The continue option should be set when retrieving more results from the server. "
                                 "It is only valid with identical query parameters (except for continue)."),
    _query("fieldSelector", "string", "A selector to restrict the list of returned objects by their fields. "
                                      "Defaults to everything."),
    _query("labelSelector", "string", "A selector to restrict the list of returned objects by their labels. "
                                      "Defaults to everything."),
    _query("limit", "integer", "limit is a maximum number of responses to return for a list call; the `continue` "
                               "field of the list metadata then fetches the next chunk."),
    _query("resourceVersion", "string", "resourceVersion sets a constraint on what resource versions a request may "
                                        "be served from. Defaults to unset"),
    _query("resourceVersionMatch", "string", "resourceVersionMatch determines how resourceVersion is applied to "
                                             "list calls (Exact, NotOlderThan). Defaults to unset"),
    _query("sendInitialEvents", "boolean", "`sendInitialEvents=true` may be set together with `watch=true`: the "
                                           "stream then begins with synthetic ADDED events of the current state, "
                                           "ended by a BOOKMARK annotated k8s.io/initial-events-end."),
    _query("timeoutSeconds", "integer", "Timeout for the list/watch call. This limits the duration of the call, "
                                        "regardless of any activity or inactivity."),
    _query("watch", "boolean", "Watch for changes to the described resources and return them as a stream of add, "
                               "update, and remove notifications. Specify resourceVersion."),
    _query("dryRun", "string", "When present, indicates that modifications should not be persisted. Valid values "
                               "are: - All: all dry run stages will be processed"),
    _query("fieldManager", "string", "fieldManager is a name associated with the actor or entity that is making "
                                     "these changes."),
    _query("fieldValidation", "string", "fieldValidation instructs the server on how to handle objects in the "
                                        "request containing unknown or duplicate fields: Ignore, Warn or Strict."),
    _query("force", "boolean", "Force is going to \"force\" Apply requests. It means user will re-acquire "
                               "conflicting fields owned by other people. Must be unset for non-apply patches."),
    _query("gracePeriodSeconds", "integer", "The duration in seconds before the object should be deleted. The value "
                                            "zero indicates delete immediately."),
    _query("orphanDependents", "boolean", "Deprecated: please use the PropagationPolicy."),
    _query("propagationPolicy", "string", "Whether and how garbage collection will be performed: 'Orphan', "
                                          "'Background' or 'Foreground'."),
    _query("container", "string", "The container for which to stream logs."),
    _query("follow", "boolean", "Follow the log stream of the pod."),
    _query("previous", "boolean", "Return previous terminated container logs."),
    _query("sinceSeconds", "integer", "A relative time in seconds before the current time from which to show logs."),
    _query("tailLines", "integer", "If set, the number of lines from the end of the logs to show."),
    _query("timestamps", "boolean", "If true, add an RFC3339 timestamp at the beginning of every line."),
    _query("limitBytes", "integer", "If set, the number of bytes to read from the server before terminating."),
)}

_LIST_QUERY = ("allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit", "resourceVersion",
               "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch")
_WRITE_QUERY = ("dryRun", "fieldManager", "fieldValidation")
_DELETE_QUERY = ("dryRun", "gracePeriodSeconds", "orphanDependents", "propagationPolicy")
_DELETECOLLECTION_QUERY = ("continue", "dryRun", "fieldSelector", "gracePeriodSeconds", "labelSelector", "limit",
                           "orphanDependents", "propagationPolicy", "resourceVersion", "resourceVersionMatch",
                           "sendInitialEvents", "timeoutSeconds")
_LOG_QUERY = ("container", "follow", "limitBytes", "previous", "sinceSeconds", "tailLines", "timestamps")


def _params(names: Iterable[str]) -> list[Json]:
    return [_Q[n] for n in names]


def _path_param(name: str, description: str) -> Json:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string", "uniqueItems": True}}


_NAMESPACE = _path_param("namespace", "object name and auth scope, such as for teams and projects")


# ---------------------------------------------------------------- bodies and answers

_ERRORS = {
    "400": "BadRequest", "401": "Unauthorized", "403": "Forbidden", "404": "NotFound",
    "405": "MethodNotAllowed", "406": "NotAcceptable", "409": "Conflict or AlreadyExists", "410": "Gone (expired)",
    "413": "RequestEntityTooLarge", "415": "UnsupportedMediaType", "422": "Invalid", "429": "TooManyRequests",
    "500": "InternalError", "503": "ServiceUnavailable", "504": "Timeout",
}
_READ_ERRORS = ("400", "401", "403", "404", "406", "429", "500", "503", "504")
_LIST_ERRORS = (*_READ_ERRORS, "410")
_WRITE_ERRORS = (*_READ_ERRORS, "405", "409", "413", "415", "422")


def _json_content(schema: Json, *types: str) -> Json:
    return {t: {"schema": schema} for t in (types or ("application/json",))}


def _answers(schema: Json, codes: Iterable[str], errors_: Iterable[str], *types: str) -> Json:
    out: Json = {}
    for code in codes:
        description = {"200": "OK", "201": "Created", "202": "Accepted"}[code]
        out[code] = {"description": description, "content": _json_content(schema, *types)}
    for code in errors_:
        out[code] = {"description": _ERRORS[code], "content": _json_content(_ref(f"{_META}.Status"))}
    return out


def _body(schema: Json) -> Json:
    return {"required": True, "content": _json_content(schema, "application/json", "application/yaml")}


_JSON_PATCH = {
    "type": "array",
    "description": "A JSON patch (RFC 6902): the operations to apply in order.",
    "items": {"type": "object", "required": ["op", "path"], "properties": {
        "op": {"type": "string", "enum": ["add", "remove", "replace", "move", "copy", "test"]},
        "path": {"type": "string"}, "from": {"type": "string"}, "value": {}}},
}


def _patch_body(kind_schema: Json) -> Json:
    return {"required": True, "content": {
        "application/json-patch+json": {"schema": _JSON_PATCH},
        "application/merge-patch+json": {"schema": _ref(f"{_META}.Patch")},
        "application/strategic-merge-patch+json": {"schema": _ref(f"{_META}.Patch")},
        "application/apply-patch+yaml": {"schema": kind_schema},
    }}


def _delete_body() -> Json:
    return {"content": _json_content(_ref(f"{_META}.DeleteOptions"))}


# ---------------------------------------------------------------- operations

def _operation(action: str, op_id: str, tag: str, gvk: Json, description: str, *, params: Iterable[str] = (),
               responses: Json, body: Json | None = None) -> Json:
    op: Json = {"description": description, "operationId": op_id, "tags": [tag]}
    if params:
        op["parameters"] = _params(params)
    op.update({"responses": responses, "x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk})
    if body is not None:
        op["requestBody"] = body
    return op


def _paths(rt: ResourceType) -> Json:
    """Every path and operation this apiserver serves for one resource type, as Kubernetes documents them."""
    tag = f"{_op_group(rt.group)}_{rt.version}"
    ident = f"{_op_group(rt.group)[:1].upper()}{_op_group(rt.group)[1:]}{rt.version[:1].upper()}{rt.version[1:]}"
    scope = "Namespaced" if rt.namespaced else ""
    kind = _ref(_schema_name(rt.group, rt.version, rt.kind))
    kind_list = _ref(_schema_name(rt.group, rt.version, rt.list_kind))
    gvk = _gvk(rt.group, rt.version, rt.kind)
    base = f"/{_gv_path(rt.group, rt.version)}"
    collection = f"{base}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{base}/{rt.plural}"
    name_param = _path_param("name", f"name of the {rt.kind}")
    scope_params = [_NAMESPACE] if rt.namespaced else []
    watch_types = ("application/json", "application/json;stream=watch")

    def op(action: str, verb: str, description: str, *, sub: str = "", **kw: Any) -> Json:
        suffix = sub[:1].upper() + sub[1:]
        collection_word = "Collection" if action == "deletecollection" else ""
        op_id = f"{verb}{ident}{collection_word}{scope}{rt.kind}{suffix}"
        return _operation(action, op_id, tag, kw.pop("gvk", gvk), description, **kw)

    paths: Json = {
        collection: {
            "parameters": [*scope_params, _Q["pretty"]],
            "get": op("list", "list", f"list or watch objects of kind {rt.kind}", params=_LIST_QUERY,
                      responses=_answers(kind_list, ["200"], _LIST_ERRORS, *watch_types)),
            "post": op("post", "create", f"create a {rt.kind}", params=_WRITE_QUERY, body=_body(kind),
                       responses=_answers(kind, ["200", "201", "202"], _WRITE_ERRORS)),
            "delete": op("deletecollection", "delete", f"delete collection of {rt.kind}",
                         params=_DELETECOLLECTION_QUERY, body=_delete_body(),
                         responses=_answers(kind_list, ["200"], _WRITE_ERRORS)),
        },
        f"{collection}/{{name}}": {
            "parameters": [name_param, *scope_params, _Q["pretty"]],
            "get": op("get", "read", f"read the specified {rt.kind}", responses=_answers(kind, ["200"], _READ_ERRORS)),
            "put": op("put", "replace", f"replace the specified {rt.kind}", params=_WRITE_QUERY, body=_body(kind),
                      responses=_answers(kind, ["200", "201"], _WRITE_ERRORS)),
            "patch": op("patch", "patch", f"partially update the specified {rt.kind}",
                        params=(*_WRITE_QUERY, "force"), body=_patch_body(kind),
                        responses=_answers(kind, ["200", "201"], _WRITE_ERRORS)),
            "delete": op("delete", "delete", f"delete a {rt.kind}", params=_DELETE_QUERY, body=_delete_body(),
                         responses=_answers(kind, ["200", "202"], _WRITE_ERRORS)),
        },
    }
    if rt.namespaced:
        paths[f"{base}/{rt.plural}"] = {
            "parameters": [_Q["pretty"]],
            "get": _operation("list", f"list{ident}{rt.kind}ForAllNamespaces", tag, gvk,
                              f"list or watch objects of kind {rt.kind}", params=_LIST_QUERY,
                              responses=_answers(kind_list, ["200"], _LIST_ERRORS, *watch_types)),
        }
    for sub in rt.subresources:
        named = (_SUB_KINDS.get(sub) or (rt.group, rt.version, rt.kind))[2]
        item: Json = {"parameters": [_path_param("name", f"name of the {named}"), *scope_params, _Q["pretty"]]}
        if sub in ("status", "scale"):
            group, version, sub_kind = _SUB_KINDS[sub] or (rt.group, rt.version, rt.kind)
            schema, sub_gvk = _ref(_schema_name(group, version, sub_kind)), _gvk(group, version, sub_kind)
            what = f"{sub} of the specified {rt.kind}"
            item["get"] = op("get", "read", f"read {what}", sub=sub, gvk=sub_gvk,
                             responses=_answers(schema, ["200"], _READ_ERRORS))
            item["put"] = op("put", "replace", f"replace {what}", sub=sub, gvk=sub_gvk, params=_WRITE_QUERY,
                             body=_body(schema), responses=_answers(schema, ["200", "201"], _WRITE_ERRORS))
            item["patch"] = op("patch", "patch", f"partially update {what}", sub=sub, gvk=sub_gvk,
                               params=(*_WRITE_QUERY, "force"), body=_patch_body(schema),
                               responses=_answers(schema, ["200", "201"], _WRITE_ERRORS))
        elif sub in ("binding", "eviction"):
            group, version, sub_kind = _SUB_KINDS[sub]  # type: ignore[misc]
            schema = _ref(_schema_name(group, version, sub_kind))
            item["post"] = op("post", "create", f"create {sub} of a {rt.kind}", sub=sub,
                              gvk=_gvk(group, version, sub_kind), params=_WRITE_QUERY, body=_body(schema),
                              responses=_answers(schema, ["200", "201", "202"], _WRITE_ERRORS))
        elif sub == "finalize":
            item["put"] = op("put", "replace", f"replace finalize of the specified {rt.kind}", sub=sub,
                             params=_WRITE_QUERY, body=_body(kind),
                             responses=_answers(kind, ["200", "201"], _WRITE_ERRORS))
        elif sub == "log":
            item["get"] = op("get", "read", f"read log of the specified {rt.kind}", sub=sub, params=_LOG_QUERY,
                             responses=_answers({"type": "string"}, ["200"], _READ_ERRORS, "text/plain"))
        else:
            continue
        paths[f"{collection}/{{name}}/{sub}"] = item
    return paths


# ---------------------------------------------------------------- component schemas

#: lists Kubernetes marks atomic although a list of the same name elsewhere merges by key (NetworkPolicy ports
#: are no container ports), per model.
_ATOMIC_LISTS: dict[str, dict[str, str | None]] = {
    "NetworkPolicyIngressRule": {"ports": None},
    "NetworkPolicyEgressRule": {"ports": None},
    "IngressLoadBalancerIngress": {"ports": None},
}


def _mark_merge_lists(model: str, schema: Json) -> None:
    """Tell kubectl which lists merge by key (containers by name, ...), so `apply` diffs them element-wise
    instead of replacing them whole (which would make every re-apply a change)."""
    overrides = {**patching.MODEL_MERGE_KEYS.get(model, {}), **_ATOMIC_LISTS.get(model, {})}
    for name, prop in (schema.get("properties") or {}).items():
        key = overrides[name] if name in overrides else patching.MERGE_KEYS.get(name)
        if key and (prop.get("type") == "array" or "items" in prop):
            prop["x-kubernetes-patch-merge-key"] = key
            prop["x-kubernetes-patch-strategy"] = "merge"
            prop["x-kubernetes-list-type"] = "map"
            prop["x-kubernetes-list-map-keys"] = [key]


def _drop_nullable(schema: Json) -> None:
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


def _string(description: str) -> Json:
    return {"type": "string", "description": description}


def _meta_schemas() -> Json:
    """The apimachinery meta types every document refers to."""
    list_meta = {"type": "object", "description": "ListMeta describes metadata that synthetic resources must have.",
                 "properties": {"resourceVersion": _string("String that identifies the server's internal version "
                                                           "of this object."),
                                "continue": _string("continue may be set if the user set a limit on the number of "
                                                    "items returned."),
                                "remainingItemCount": {"type": "integer", "format": "int64"},
                                "selfLink": _string("Deprecated.")}}
    cause = {"type": "object", "description": "StatusCause provides more information about an api.Status failure.",
             "properties": {"reason": _string("A machine-readable description of the cause of the error."),
                            "message": _string("A human-readable description of the cause of the error."),
                            "field": _string("The field of the resource that has caused this error.")}}
    details = {"type": "object", "properties": {
        "name": {"type": "string"}, "group": {"type": "string"}, "kind": {"type": "string"},
        "uid": {"type": "string"}, "causes": {"type": "array", "items": _ref(f"{_META}.StatusCause")},
        "retryAfterSeconds": {"type": "integer", "format": "int32"}}}
    status = {"type": "object", "description": "Status is a return value for calls that don't return other objects.",
              "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                             "metadata": _ref(f"{_META}.ListMeta"),
                             "status": _string('Status of the operation. One of: "Success" or "Failure".'),
                             "message": _string("A human-readable description of the status of this operation."),
                             "reason": _string("A machine-readable description of why this operation is in the "
                                               '"Failure" status.'),
                             "details": _ref(f"{_META}.StatusDetails"),
                             "code": {"type": "integer", "format": "int32",
                                      "description": "Suggested HTTP return code for this status, 0 if not set."}},
              "x-kubernetes-group-version-kind": [_gvk("", "v1", "Status")]}
    delete_options = {
        "type": "object", "description": "DeleteOptions may be provided when deleting an API object.",
        "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                       "dryRun": {"type": "array", "items": {"type": "string"}},
                       "gracePeriodSeconds": {"type": "integer", "format": "int64"},
                       "orphanDependents": {"type": "boolean"},
                       "preconditions": {"type": "object", "properties": {"resourceVersion": {"type": "string"},
                                                                          "uid": {"type": "string"}}},
                       "propagationPolicy": {"type": "string"}},
        "x-kubernetes-group-version-kind": [_gvk("", "v1", "DeleteOptions")]}
    patch = {"type": "object",
             "description": "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body."}
    return {f"{_META}.ListMeta": list_meta, f"{_META}.StatusCause": cause, f"{_META}.StatusDetails": details,
            f"{_META}.Status": status, f"{_META}.DeleteOptions": delete_options, f"{_META}.Patch": patch}


def _list_schema(group: str, version: str, kind: str) -> Json:
    return {"type": "object", "description": f"{kind}List is a list of {kind} objects.", "required": ["items"],
            "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                           "metadata": _ref(f"{_META}.ListMeta"),
                           "items": {"type": "array", "items": _ref(_schema_name(group, version, kind))}},
            "x-kubernetes-group-version-kind": [_gvk(group, version, f"{kind}List")]}


def _kinds(members: list[ResourceType]) -> list[tuple[str, str, str]]:
    """(group, version, kind) of every body the group-version's operations take or answer."""
    kinds = [(r.group, r.version, r.kind) for r in members]
    for r in members:
        for sub in r.subresources:
            extra = _SUB_KINDS.get(sub)
            if extra and extra not in kinds:
                kinds.append(extra)
    return kinds


@functools.cache
def _document_bytes(group: str, version: str) -> bytes:
    members = [r for r in RESOURCES if r.group == group and r.version == version]
    kinds = _kinds(members)
    typed = [(k, MODELS[(f"{k[0]}/{k[1]}" if k[0] else k[1], k[2])]) for k in kinds
             if (f"{k[0]}/{k[1]}" if k[0] else k[1], k[2]) in MODELS]
    _, defs = models_json_schema([(m, "validation") for _, m in typed], by_alias=True, ref_template=_REF)
    pydantic_schemas: Json = dict(defs.get("$defs", {}))
    renames = {m.__name__: _schema_name(*k) for k, m in typed}
    schemas: Json = {}
    for model_name, schema in pydantic_schemas.items():
        _mark_merge_lists(model_name, schema)
        _drop_nullable(schema)
        schemas[renames.get(model_name, model_name)] = schema
    for g, v, k in kinds:
        name = _schema_name(g, v, k)
        schema = schemas.setdefault(name, {"type": "object", "description": f"{k} (schema not published)"})
        schema["x-kubernetes-group-version-kind"] = [_gvk(g, v, k)]
    for r in members:
        schemas[_schema_name(r.group, r.version, r.list_kind)] = _list_schema(r.group, r.version, r.kind)
    schemas.update(_meta_schemas())
    paths: Json = {}
    for r in members:
        paths.update(_paths(r))
    text = json.dumps({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.36.0-kubelite"},
                       "paths": paths, "components": {"schemas": schemas}})
    # Component references still point at pydantic's class names for the kinds renamed above.
    for old, new in renames.items():
        text = text.replace(f'"{_REF.format(model=old)}"', f'"{_REF.format(model=new)}"')
    return text.encode()


def document(group: str, version: str) -> Json:
    """The OpenAPI v3 document of one served group-version (a fresh copy)."""
    return json.loads(_document_bytes(group, version))


def group_versions() -> list[tuple[str, str]]:
    """The served group-versions, core first, in the order of the resource table."""
    seen: list[tuple[str, str]] = []
    for r in RESOURCES:
        if (r.group, r.version) not in seen:
            seen.append((r.group, r.version))
    return seen


# ---------------------------------------------------------------- /openapi/v2 (Swagger 2.0)

_V2_REF = "#/definitions/{model}"
#: what /openapi/v2 can be answered as; the protobuf form Kubernetes also offers is not
_V2_JSON = "application/json"


def _v2_schema(schema: Any) -> Any:
    """A v3 schema in Swagger 2.0's subset: `anyOf` (which 2.0 lacks) as Kubernetes writes an IntOrString, else
    dropped; a `$ref` with siblings wrapped in allOf, as 2.0 ignores a reference's siblings."""
    if isinstance(schema, list):
        return [_v2_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _v2_schema(v) for k, v in schema.items()
           if k not in ("anyOf", "oneOf", "const", "nullable") and not (k == "default" and v is None)}
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        types_ = {o.get("type") for o in options if isinstance(o, dict)} - {"null"}
        if types_ == {"integer", "string"}:
            out.update(type="string", format="int-or-string")
    return out


def _v2_parameter(param: Json) -> Json:
    out = {k: v for k, v in param.items() if k != "schema"}
    out.update({k: v for k, v in (param.get("schema") or {}).items() if k in ("type", "uniqueItems", "format")})
    return out


def _v2_operation(op: Json) -> Json:
    out: Json = {"description": op.get("description", ""), "consumes": ["*/*"], "produces": [_V2_JSON,
                                                                                            "application/yaml"],
                 "schemes": ["https"], "tags": op.get("tags", []), "operationId": op["operationId"]}
    params = [_v2_parameter(p) for p in op.get("parameters", [])]
    body = op.get("requestBody")
    if body is not None:
        content = body.get("content") or {}
        if "application/apply-patch+yaml" in content:  # a patch: one body, four content types
            out["consumes"] = list(content)
            schema = _ref(f"{_META}.Patch")
        else:
            schema = next(iter(content.values()), {}).get("schema", {})
        params.insert(0, {"name": "body", "in": "body", "required": bool(body.get("required")),
                          "schema": _v2_schema(schema)})
    if params:
        out["parameters"] = params
    responses: Json = {}
    for code, answer in op.get("responses", {}).items():
        content = answer.get("content") or {}
        if code.startswith("2"):
            out["produces"] = list(content) or out["produces"]
        responses[code] = {"description": answer.get("description", "")}
        if content and code.startswith("2"):
            responses[code]["schema"] = _v2_schema(next(iter(content.values())).get("schema", {}))
    out["responses"] = responses
    out.update({k: v for k, v in op.items() if k.startswith("x-kubernetes-")})
    return out


@functools.cache
def _v2_bytes() -> bytes:
    """One Swagger 2.0 document made of every group-version's v3 document."""
    paths: Json = {}
    definitions: Json = {}
    for group, version in group_versions():
        doc = document(group, version)
        for path, item in doc["paths"].items():
            v2_item: Json = {}
            if item.get("parameters"):
                v2_item["parameters"] = [_v2_parameter(p) for p in item["parameters"]]
            for method in ("get", "put", "post", "delete", "patch"):
                if method in item:
                    v2_item[method] = _v2_operation(item[method])
            paths[path] = v2_item
        for name, schema in doc["components"]["schemas"].items():
            definitions.setdefault(name, _v2_schema(schema))
    text = json.dumps({"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.36.0-kubelite"},
                       "paths": paths, "definitions": definitions,
                       "securityDefinitions": {"BearerToken": {"description": "Bearer Token authentication",
                                                               "type": "apiKey", "name": "authorization",
                                                               "in": "header"}},
                       "security": [{"BearerToken": []}]})
    return text.replace('"#/components/schemas/', '"#/definitions/').encode()


def document_v2() -> Json:
    """The Swagger 2.0 document of /openapi/v2 (a fresh copy)."""
    return json.loads(_v2_bytes())


def _accepts_json(accept: str | None) -> bool:
    """Whether an Accept header takes JSON (or anything); a missing one does."""
    if not accept or not accept.strip():
        return True
    for clause in accept.split(","):
        media, *params = (p.strip() for p in clause.split(";"))
        if any(p.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000") for p in params):
            continue
        if media.lower() in ("*/*", "application/*", _V2_JSON):
            return True
    return False


@router.get("/openapi/v2", include_in_schema=False)
async def swagger(request: Request) -> Response:
    if not _accepts_json(request.headers.get("accept")):
        raise errors.ApiError("only application/json is served for /openapi/v2 (not its protobuf form)",
                              reason="NotAcceptable", code=406)
    body = _v2_bytes()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32].upper() + '"'
    return Response(body, media_type=_V2_JSON, headers={"ETag": etag, "Vary": "Accept"})


@router.get("/openapi/v3", include_in_schema=False)
async def index() -> Response:
    paths = {}
    for group, version in group_versions():
        digest = hashlib.sha256(_document_bytes(group, version)).hexdigest()[:16].upper()
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
    if (group, version) not in group_versions():
        raise errors.NotFound(f"the server could not find the requested resource ({_gv_path(group, version)})")
    return Response(_document_bytes(group, version), media_type="application/json",
                    headers={"Cache-Control": "public, immutable"})
