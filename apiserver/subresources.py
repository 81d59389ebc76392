"""The `scale` and `eviction` subresources: views onto a workload's replicas and a policy-checked delete.

`scale` reads and writes only `spec.replicas` of a Deployment, ReplicaSet or StatefulSet through an
autoscaling/v1 Scale object, so `kubectl scale` (a merge patch on .../scale) and autoscalers never touch
the rest of the spec. `eviction` is a delete that names its options in an Eviction body.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from apiserver import patching
from apiserver.authn.user import UserInfo
from apiserver.params import WriteOptions, parse_delete_options
from apiserver.rest import Registry
from kube import errors, labels
from kube.resources import PODS, ResourceType

__all__ = ["evict", "get_scale", "update_scale"]

Obj = dict[str, Any]
INT32_MAX = 2**31 - 1


def _selector_text(selector: Obj | None) -> str:
    parts = [f"{k}={v}" for k, v in ((selector or {}).get("matchLabels") or {}).items()]
    for expr in (selector or {}).get("matchExpressions") or []:
        values = ",".join(expr.get("values") or [])
        parts.append({"In": f"{expr['key']} in ({values})", "NotIn": f"{expr['key']} notin ({values})",
                      "Exists": expr["key"], "DoesNotExist": f"!{expr['key']}"}[expr["operator"]])
    return ",".join(parts)


def scale_of(obj: Obj) -> Obj:
    meta = obj["metadata"]
    scale: Obj = {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                     if k in meta},
        "spec": {"replicas": obj["spec"].get("replicas", 0)},
        "status": {"replicas": (obj.get("status") or {}).get("replicas", 0)},
    }
    selector = _selector_text(obj["spec"].get("selector"))
    if selector:
        labels.parse(selector)  # the selector string must be one clients can parse back
        scale["status"]["selector"] = selector
    return scale


async def get_scale(registry: Registry, rt: ResourceType, namespace: str | None, name: str) -> Obj:
    return scale_of(await registry.get(rt, namespace, name))


async def update_scale(registry: Registry, rt: ResourceType, namespace: str | None, name: str, body: Any,
                       patch_type: str | None = None, options: WriteOptions | None = None) -> Obj:
    """PUT (patch_type None) or PATCH a Scale; only spec.replicas reaches the stored object."""

    def new_replicas(current: Obj) -> int:
        scale = scale_of(current)
        wanted = body if patch_type is None else patching.apply_patch(scale, body, patch_type)
        if not isinstance(wanted, dict):
            raise errors.BadRequest("the Scale body must be an object")
        meta, spec = wanted.get("metadata") or {}, wanted.get("spec") or {}
        if not isinstance(meta, dict) or not isinstance(spec, dict):
            raise errors.BadRequest("the Scale's metadata and spec must be objects")
        expected = meta.get("resourceVersion")
        if expected and expected != current["metadata"]["resourceVersion"]:
            raise errors.Conflict.stale(rt.plural, name, rt.group)
        replicas = spec.get("replicas", 0)
        if not isinstance(replicas, int) or isinstance(replicas, bool) or not 0 <= replicas <= INT32_MAX:
            shown = json.dumps(replicas) if isinstance(replicas, str) else repr(replicas)
            detail = ("must be greater than or equal to 0" if isinstance(replicas, int) and replicas < 0
                      else "must be an integer between 0 and 2147483647")
            raise errors.Invalid.for_object("Scale", name, [{
                "reason": "FieldValueInvalid", "field": "spec.replicas",
                "message": f"Invalid value: {shown}: {detail}"}], "autoscaling")
        return replicas

    def change(current: Obj) -> Obj:
        return {**current, "spec": {**current["spec"], "replicas": new_replicas(current)}}

    stored, _ = await registry.update_with(rt, namespace, name, change, options)
    return scale_of(stored)


async def evict(registry: Registry, namespace: str, name: str, body: Any, dry_run: list[str] | None = None,
                user: UserInfo | None = None) -> Obj:
    """Delete a pod as an Eviction asks (its deleteOptions). No PodDisruptionBudgets are served, so
    nothing can refuse an eviction yet."""
    if not isinstance(body, dict) or body.get("kind") not in (None, "Eviction"):
        raise errors.BadRequest("the body of pods/eviction must be an Eviction")
    meta = body.get("metadata") or {}
    if not isinstance(meta, dict):
        raise errors.BadRequest("the Eviction's metadata must be an object")
    raw_options = body.get("deleteOptions")
    if raw_options is not None and not isinstance(raw_options, dict):
        raise errors.BadRequest("the Eviction's deleteOptions must be an object")
    target = meta.get("name")
    if target and target != name:
        raise errors.BadRequest(f"name in URL does not match name in Eviction object ({target} != {name})")
    options = parse_delete_options(body.get("deleteOptions"), None, dry_run)
    await registry.delete(PODS, namespace, name, dataclasses.replace(options, user=user))
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
