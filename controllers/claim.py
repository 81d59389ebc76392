"""Adoption and release of pods by a controller, through ownerReferences (client-go's ControllerRefManager).

A controller owns the pods whose controller ownerReference names its uid. It adopts orphans that match
its selector (unless it is being deleted) and releases owned pods that stopped matching. Both are
patches guarded by the pod's uid, so a pod replaced under the same name is never touched by mistake.
"""

from __future__ import annotations

from typing import Any

from kube import errors, labels
from kube.client import ApiClient
from kube.resources import ResourceType

__all__ = ["claim"]

Obj = dict[str, Any]


def _owner_ref(owner: Obj) -> Obj:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


async def claim(client: ApiClient, resource: ResourceType, owner: Obj, selector: Obj | None,
                candidates: list[Obj]) -> list[Obj]:
    """The objects `owner` controls after adopting matching orphans and releasing non-matching ones."""
    uid = owner["metadata"]["uid"]
    match = labels.from_label_selector(selector)
    deleting = bool(owner["metadata"].get("deletionTimestamp"))
    owned: list[Obj] = []
    for obj in candidates:
        meta = obj["metadata"]
        refs = meta.get("ownerReferences") or []
        ref = next((r for r in refs if r.get("controller")), None)
        matches = not match.empty() and match.matches(meta.get("labels"))
        if ref is not None and ref.get("uid") == uid:
            if matches or deleting:
                owned.append(obj)
                continue
            patch = {"metadata": {"uid": meta["uid"], "ownerReferences": [r for r in refs if r.get("uid") != uid]}}
            await _patch(client, resource, obj, patch)
        elif ref is None and matches and not deleting and not meta.get("deletionTimestamp"):
            patch = {"metadata": {"uid": meta["uid"], "ownerReferences": [*refs, _owner_ref(owner)]}}
            if await _patch(client, resource, obj, patch):
                owned.append(obj)
    return owned


async def _patch(client: ApiClient, resource: ResourceType, obj: Obj, patch: Obj) -> bool:
    meta = obj["metadata"]
    try:
        await client.patch(resource, meta["name"], patch, meta.get("namespace"), patch_type="merge")
    except (errors.NotFound, errors.Conflict):
        return False
    return True
