"""Client-side apply's three-way JSON merge patch, as `kubectl apply` computes it.

From the last applied manifest (`original`, kept in the `kubectl.kubernetes.io/last-applied-configuration`
annotation), the new manifest (`modified`) and the live object (`current`):
  * fields that were in the last applied manifest and are gone from the new one are deleted (`null`);
  * fields of the new manifest that differ from the live object are set;
  * everything else on the live object (server defaults, fields other clients set) is left alone.
A merge patch replaces lists whole, so a list is sent only when the user changed it or the live list no longer
contains what the manifest asks for (extra server-defaulted keys inside list items do not count as a change).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["LAST_APPLIED", "contains", "last_applied", "three_way_merge_patch", "with_last_applied"]

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

Obj = dict[str, Any]


def contains(live: Any, wanted: Any) -> bool:
    """Whether `live` holds everything `wanted` says (maps may carry extra keys, lists must match item by item)."""
    if isinstance(wanted, dict):
        return isinstance(live, dict) and all(
            (v is None and k not in live) or (k in live and contains(live[k], v)) for k, v in wanted.items())
    if isinstance(wanted, list):
        return isinstance(live, list) and len(live) == len(wanted) and all(
            contains(a, b) for a, b in zip(live, wanted, strict=True))
    if isinstance(wanted, bool) or isinstance(live, bool):
        return type(wanted) is type(live) and wanted == live
    return live == wanted


def three_way_merge_patch(original: Obj | None, modified: Obj, current: Obj) -> Obj:
    """The merge patch that turns `current` into what `modified` asks for, deleting what only `original` had.
    An empty dict means nothing to do (kubectl's "unchanged")."""
    original = original or {}
    patch: Obj = {}
    for key in original:
        if key not in modified and key in current:
            patch[key] = None
    for key, want in modified.items():
        have = current.get(key)
        was = original.get(key)
        if want is None:
            if key in current:
                patch[key] = None
        elif isinstance(want, dict) and isinstance(have, dict):
            sub = three_way_merge_patch(was if isinstance(was, dict) else None, want, have)
            if sub:
                patch[key] = sub
        elif isinstance(want, list):
            if key not in current or (was is not None and was != want) or not contains(have, want):
                patch[key] = want
        elif key not in current or not contains(have, want):
            patch[key] = want
    return patch


def last_applied(obj: Obj) -> Obj | None:
    """The manifest stored by the previous apply, if any and readable."""
    text = ((obj.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def with_last_applied(manifest: Obj) -> Obj:
    """A copy of the manifest carrying itself (minus that annotation) as the last-applied annotation."""
    stored = json.loads(json.dumps(manifest))
    meta = stored.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    annotations.pop(LAST_APPLIED, None)
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    text = json.dumps(stored, sort_keys=True, separators=(",", ":"))
    result = json.loads(json.dumps(manifest))
    result.setdefault("metadata", {}).setdefault("annotations", {})
    result["metadata"]["annotations"] = {**(result["metadata"]["annotations"] or {}), LAST_APPLIED: text}
    return result
