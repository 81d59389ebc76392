"""ControllerRevisions: the template history that DaemonSets and StatefulSets roll between
(Kubernetes' `pkg/controller/history`).

A revision's `data` is the patch that restores its template, `{"spec": {"template": {..., "$patch":
"replace"}}}`; its name is `<owner>-<hash>`, the hash taken over that data (plus the owner's
`status.collisionCount`, bumped when two different templates hash alike). Revisions are numbered; the
highest is the newest, and rolling back re-numbers an old revision rather than copying it. Pure helpers
first, then the few writes (`History`).
"""

from __future__ import annotations

import contextlib
import copy
import json
import struct
from typing import Any

from kube import errors
from kube.client import ApiClient
from kube.resources import CONTROLLERREVISIONS

__all__ = [
    "HASH_LABEL", "History", "compute_hash", "equal", "find_equal", "next_number", "revision_name",
    "safe_encode", "sorted_revisions", "template_data", "template_of", "to_truncate",
]

Obj = dict[str, Any]

#: on revisions and on pods: which revision a pod was made from
HASH_LABEL = "controller-revision-hash"

# k8s.io/apimachinery/pkg/util/rand: no vowels (no words) and no look-alike characters
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def _fnv32a(data: bytes) -> int:
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def safe_encode(text: str) -> str:
    """Kubernetes' rand.SafeEncodeString: each character mapped into the safe alphabet."""
    return "".join(_ALPHABET[ord(c) % len(_ALPHABET)] for c in text)


def compute_hash(obj: Any, collision_count: int | None = None) -> str:
    """A short stable name suffix for `obj`: FNV-32a over its canonical JSON (and the collision count),
    spelled as Kubernetes' ComputeHash spells it."""
    data = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        data += struct.pack("<I", collision_count) + b"\0\0\0\0"
    return safe_encode(str(_fnv32a(data)))


def template_data(template: Obj) -> Obj:
    """The revision data for a pod template."""
    return {"spec": {"template": {**copy.deepcopy(template), "$patch": "replace"}}}


def template_of(revision: Obj) -> Obj:
    """The pod template a revision restores."""
    template = copy.deepcopy(((revision.get("data") or {}).get("spec") or {}).get("template") or {})
    template.pop("$patch", None)
    return template


def revision_name(owner_name: str, hash_: str) -> str:
    return f"{owner_name[:223]}-{hash_}"


def sorted_revisions(revisions: list[Obj]) -> list[Obj]:
    """Oldest first: by revision number, then creation time, then name."""
    return sorted(revisions, key=lambda r: (int(r.get("revision") or 0),
                                            r["metadata"].get("creationTimestamp") or "", r["metadata"]["name"]))


def next_number(revisions: list[Obj]) -> int:
    return max((int(r.get("revision") or 0) for r in revisions), default=0) + 1


def equal(a: Obj, b: Obj) -> bool:
    return (a.get("data") or {}) == (b.get("data") or {})


def find_equal(revisions: list[Obj], data: Obj) -> list[Obj]:
    """Revisions holding exactly `data`, in the order given."""
    return [r for r in revisions if (r.get("data") or {}) == data]


def to_truncate(revisions: list[Obj], live: set[str], limit: int) -> list[Obj]:
    """The oldest non-live revisions beyond `limit` (live: names in use by the owner or its pods)."""
    history = [r for r in sorted_revisions(revisions) if r["metadata"]["name"] not in live]
    if limit < 0 or len(history) <= limit:
        return []
    return history[:len(history) - limit]


class History:
    """The writes: create (resolving name collisions), re-number, delete."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client

    async def create(self, owner: Obj, data: Obj, number: int, labels: dict[str, str],
                     collision_count: int) -> tuple[Obj, int]:
        """Create the revision holding `data`; returns it and the collision count that named it. An existing
        revision of the same name and data (a previous try whose answer was lost) is the one wanted."""
        meta = owner["metadata"]
        while True:
            hash_ = compute_hash(data, collision_count)
            body = {
                "apiVersion": "apps/v1", "kind": "ControllerRevision",
                "metadata": {
                    "name": revision_name(meta["name"], hash_), "namespace": meta["namespace"],
                    "labels": {**labels, HASH_LABEL: hash_},
                    "ownerReferences": [{"apiVersion": owner["apiVersion"], "kind": owner["kind"],
                                         "name": meta["name"], "uid": meta["uid"], "controller": True,
                                         "blockOwnerDeletion": True}],
                },
                "data": data, "revision": number,
            }
            try:
                return await self.client.create(CONTROLLERREVISIONS, body, meta["namespace"]), collision_count
            except errors.AlreadyExists:
                existing = await self.client.get(CONTROLLERREVISIONS, body["metadata"]["name"], meta["namespace"])
                owners = {r.get("uid") for r in existing["metadata"].get("ownerReferences") or []}
                if existing.get("data") == data and meta["uid"] in owners:
                    return existing, collision_count
                collision_count += 1

    async def renumber(self, revision: Obj, number: int) -> Obj:
        """Make an old revision the newest (a roll back to a template seen before)."""
        if int(revision.get("revision") or 0) == number:
            return revision
        meta = revision["metadata"]
        return await self.client.patch(CONTROLLERREVISIONS, meta["name"],
                                       {"metadata": {"uid": meta["uid"]}, "revision": number},
                                       meta["namespace"], patch_type="merge")

    async def delete(self, revision: Obj) -> None:
        meta = revision["metadata"]
        with contextlib.suppress(errors.NotFound, errors.Conflict):
            await self.client.delete(CONTROLLERREVISIONS, meta["name"], meta["namespace"],
                                     preconditions={"uid": meta["uid"]})
