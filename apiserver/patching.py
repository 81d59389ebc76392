"""PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902), and strategic merge patch.

Strategic merge patch is merge patch plus Kubernetes' list semantics: lists of objects with a merge key
(containers by `name`, ports by `containerPort`, ...) are merged element by element, and the `$patch`,
`$setElementOrder/` and `$deleteFromPrimitiveList/` directives that kubectl sends are honoured.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

from kube import errors

__all__ = ["apply_patch", "json_patch", "merge_patch", "strategic_merge_patch"]

MERGE = "application/merge-patch+json"
JSON = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"

#: list field name -> the key its elements are merged on (Kubernetes' patchMergeKey tags).
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "ports": "containerPort",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "conditions": "type",
    "addresses": "type",
    "taints": "key",
    "ownerReferences": "uid",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "containerStatuses": "name",
    "initContainerStatuses": "name",
}

#: (enclosing field, list field) -> merge key, where a list's key depends on where it sits: a Service's
#: `spec.ports` merge on `port`; an Endpoints subset's ports are atomic (None: replaced whole).
CONTEXT_MERGE_KEYS: dict[tuple[str, str], str | None] = {
    ("spec", "ports"): "port",
    ("subsets", "ports"): None,
    ("subsets", "addresses"): None,
}

#: model name -> {list field: merge key}: the same exceptions, for the OpenAPI schemas kubectl reads.
MODEL_MERGE_KEYS: dict[str, dict[str, str | None]] = {
    "ServiceSpec": {"ports": "port"},
    "EndpointSubset": {"ports": None, "addresses": None, "notReadyAddresses": None},
}


def merge_key(parent: str, field: str) -> str | None:
    if (parent, field) in CONTEXT_MERGE_KEYS:
        return CONTEXT_MERGE_KEYS[(parent, field)]
    return MERGE_KEYS.get(field)


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, list):
        raise errors.BadRequest("json patch must be a list of operations")
    try:
        return jsonpatch.apply_patch(target, patch)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, KeyError) as exc:
        raise errors.Invalid(f"the server rejected our request due to an error in our request: {exc}") from exc


def strategic_merge_patch(target: Any, patch: Any, field: str = "") -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    _check_directives(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") or key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            if not isinstance(value, list):
                raise errors.BadRequest(f"invalid patch: the value of {key} must be a list, got "
                                        f"{type(value).__name__}")
            result[name] = [x for x in result.get(name) or [] if x not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and merge_key(field, key) and isinstance(result.get(key), list):
            result[key] = _merge_list(result[key], value, merge_key(field, key) or "", key)
        elif isinstance(value, list):
            result[key] = [_strip_directives(x) for x in value]
        else:
            merged = strategic_merge_patch(result.get(key), value, key)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
    return result


_PATCH_TYPES = ("replace", "merge", "delete")


def _check_directives(patch: dict[str, Any]) -> None:
    """Refuse malformed directives as Kubernetes' strategicpatch does, instead of skipping them."""
    if "$patch" in patch and patch["$patch"] not in _PATCH_TYPES:
        raise errors.BadRequest(f"unknown patch type: {_go_text(patch['$patch'])} in map")
    if "$retainKeys" in patch and not _strings(patch["$retainKeys"]):
        raise errors.BadRequest("invalid patch format of retainKeys")
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") and not isinstance(value, list):
            raise errors.BadRequest("invalid patch format of setElementOrder list")


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(x, str) for x in value)


def _go_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _merge_list(current: list, patch: list, merge_key: str, field: str) -> list:
    out = [copy.deepcopy(x) for x in current]
    for item in patch:
        if not isinstance(item, dict) or merge_key not in item:
            out.append(copy.deepcopy(item))
            continue
        idx = next((i for i, x in enumerate(out) if isinstance(x, dict) and x.get(merge_key) == item[merge_key]),
                   None)
        _check_directives(item)
        if item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
        elif idx is None:
            out.append(_strip_directives(item))
        else:
            out[idx] = strategic_merge_patch(out[idx], item, field)
    return out


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip_directives(x) for x in value]
    return value


def apply_patch(target: dict[str, Any], patch: Any, content_type: str) -> dict[str, Any]:
    """The patched object; BadRequest (never an unexpected exception) for a patch that cannot apply."""
    try:
        return _apply(target, patch, content_type.split(";")[0].strip())
    except (TypeError, AttributeError, ValueError, KeyError, IndexError) as exc:
        # A patch of the wrong shape for the object (a list where a map is, a number as a directive...).
        raise errors.BadRequest(f"the patch could not be applied: {type(exc).__name__}: {exc}") from None


def _apply(target: dict[str, Any], patch: Any, kind: str) -> dict[str, Any]:
    if kind == MERGE:
        result = merge_patch(target, patch)
    elif kind == JSON:
        result = json_patch(target, patch)
    elif kind == STRATEGIC:
        result = strategic_merge_patch(target, patch)
    elif kind == APPLY:
        # Server-side apply without field ownership: the applied configuration is merged strategically.
        result = strategic_merge_patch(target, patch)
    else:
        raise errors.UnsupportedMediaType(
            f"the body of the request was in an unknown format - accepted media types include: "
            f"{JSON}, {MERGE}, {STRATEGIC}, {APPLY}"
        )
    if not isinstance(result, dict):
        raise errors.BadRequest("the patch did not produce an object")
    return result
