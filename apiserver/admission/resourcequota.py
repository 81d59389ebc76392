"""ResourceQuota: a write that would take a namespace over one of its ResourceQuotas is refused, as Kubernetes'
k8s.io/apiserver/pkg/admission/plugin/resourcequota. Validating, and last in the chain, so that nothing after it
can refuse a request it has charged.

For an object a quota covers (its `status.hard` tracks a resource the object uses, and the object is in the
quota's scopes), the usage the object adds (on update, beyond the old object's) is added to `status.used`; over
`status.hard` it is 403 `exceeded quota: NAME, requested: pods=1, used: pods=2, limited: pods=2`, a pod without
the cpu or memory requests or limits a quota tracks is 403 `failed quota: NAME: must specify limits.cpu for: app`,
and a quota whose usage the controller has not computed yet is 403 `status unknown for quota`.

The charge is written BEFORE the object is stored, as a status update of the quota that compares-and-swaps on
its resourceVersion: concurrent creates (in this apiserver, or in another one over the same etcd) cannot both
take the last unit. On a conflict the quotas that failed are read again from etcd and the request is checked
again (Kubernetes' checkQuotas, three retries). Within one apiserver the requests of a namespace are checked one
at a time, so they do not conflict with each other. A dry run is checked and charges nothing. What a refused or
failed create charged, and what deletions free, the resource-quota controller gives back when it recomputes.

Neighbours: kube/quota.py (the evaluators, shared with controllers/resourcequota.py), indexes.py (quotas by
namespace, also fed by this apiserver's own quota writes).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from apiserver.admission.chain import Attributes, Plugin
from apiserver.admission.indexes import NamespacedIndex
from apiserver.params import WriteOptions
from kube import errors, quota
from kube.resources import NAMESPACES, ResourceType, by_plural

if TYPE_CHECKING:
    from apiserver.rest import Registry

__all__ = ["RESOURCEQUOTAS", "ResourceQuota", "check_request"]

Obj = dict[str, Any]

_found = by_plural("", "v1", "resourcequotas")
assert _found is not None
RESOURCEQUOTAS: ResourceType = _found
#: who the quota's status writes are from (managedFields), as the loopback client of kube-apiserver names itself
FIELD_MANAGER = "kube-apiserver"


def _forbidden(attrs: Attributes, why: str) -> errors.Forbidden:
    return errors.Forbidden.for_resource(attrs.resource.plural, attrs.name, attrs.resource.group, why)


def _hard(q: Obj) -> quota.ResourceList:
    return quota.parse_list((q.get("status") or {}).get("hard"))


def _used(q: Obj) -> quota.ResourceList:
    return quota.parse_list((q.get("status") or {}).get("used"))


def check_request(quotas: list[Obj], attrs: Attributes, evaluator: quota.Evaluator,
                  now: datetime | None = None) -> list[quota.ResourceList | None]:
    """CheckRequest: for each quota, its new status.used if the request is admitted (None: unchanged); raises
    Forbidden when the request does not fit."""
    assert attrs.obj is not None
    obj = attrs.obj
    interesting: list[int] = []
    for i, q in enumerate(quotas):
        if not quota.matches(evaluator, q, obj):
            continue
        name = q["metadata"]["name"]
        restricted = evaluator.matching_resources(_hard(q))
        if (why := evaluator.constraints(restricted, obj)) is not None:
            raise _forbidden(attrs, f"failed quota: {name}: {why}")
        used = _used(q)
        unknown = [r for r in _hard(q) if r in restricted and r not in used]
        if unknown:
            raise _forbidden(attrs, f"status unknown for quota: {name}, resources: {','.join(sorted(restricted))}")
        interesting.append(i)
    if not interesting:
        return [None] * len(quotas)
    usage = evaluator.usage(obj, now)
    if negative := quota.is_negative(usage):
        raise _forbidden(attrs, f"quota usage is negative for resource(s): {','.join(sorted(negative))}")
    deltas = dict.fromkeys(interesting, usage)
    if attrs.operation == "UPDATE":
        old = attrs.old
        if old is None:
            raise _forbidden(attrs, "unable to get previous usage since prior version of object was not found")
        if (old.get("metadata") or {}).get("resourceVersion"):
            delta = quota.subtract_non_negative(usage, evaluator.usage(old, now))
            for i in interesting:
                if quota.matches(evaluator, quotas[i], old):
                    deltas[i] = delta
    out: list[quota.ResourceList | None] = [None] * len(quotas)
    for i in interesting:
        delta = quota.remove_zeros(deltas[i])
        if not delta:
            continue
        q = quotas[i]
        hard, used = _hard(q), _used(q)
        requested = quota.mask(delta, hard)
        new_used = quota.add(used, requested)
        fits, exceeded = quota.less_than_or_equal(quota.mask(new_used, requested), hard)
        if not fits:
            raise _forbidden(attrs, f"exceeded quota: {q['metadata']['name']}, "
                                    f"requested: {quota.pretty(quota.mask(requested, exceeded))}, "
                                    f"used: {quota.pretty(quota.mask(used, exceeded))}, "
                                    f"limited: {quota.pretty(quota.mask(hard, exceeded))}")
        if not quota.equals(new_used, used):
            out[i] = new_used
    return out


class ResourceQuota(Plugin):
    name = "ResourceQuota"

    def __init__(self, retries: int = 3) -> None:
        self.index = NamespacedIndex(RESOURCEQUOTAS)
        self.retries = retries
        self._registry: Registry | None = None
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    async def start(self, registry: Registry) -> None:
        self._registry = registry
        await self.index.start(registry)

    async def stop(self) -> None:
        await self.index.stop()

    def observe(self, resource: ResourceType, stored: Obj) -> None:
        if resource is RESOURCEQUOTAS:
            self.index.observe(stored)

    @contextlib.asynccontextmanager
    async def _serialized(self, namespace: str) -> AsyncIterator[None]:
        """One quota check at a time per namespace in this apiserver (Kubernetes' per-namespace work queue)."""
        lock, users = self._locks.get(namespace) or (asyncio.Lock(), 0)
        self._locks[namespace] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[namespace]
            if users <= 1:
                del self._locks[namespace]
            else:
                self._locks[namespace] = (lock, users - 1)

    async def validate(self, attrs: Attributes) -> None:
        if attrs.subresource or attrs.obj is None or not attrs.namespace or attrs.operation == "DELETE":
            return
        if attrs.resource is NAMESPACES or not attrs.resource.namespaced:
            return
        evaluator = quota.evaluator_for(attrs.resource.group, attrs.resource.plural)
        if evaluator is None or not evaluator.handles(attrs.operation):
            return
        if not await self.index.in_namespace(attrs.namespace):
            return  # no quota here: nothing to wait for
        async with self._serialized(attrs.namespace):
            quotas = await self.index.in_namespace(attrs.namespace)  # as the previous charge left them
            if quotas:
                await self._charge(attrs, evaluator, quotas)

    async def _charge(self, attrs: Attributes, evaluator: quota.Evaluator, quotas: list[Obj]) -> None:
        """checkQuotas: check, then write every changed quota; retry those whose write lost a race."""
        now = datetime.now(UTC)
        for attempt in range(self.retries + 1):
            new_used = check_request(quotas, attrs, evaluator, now)
            if attrs.dry_run:
                return
            failed: list[str] = []
            last: errors.ApiError | None = None
            for q, used in zip(quotas, new_used, strict=True):
                if used is None:
                    continue
                try:
                    await self._write(q, used)
                except errors.NotFound:
                    continue  # deleted meanwhile: it limits nothing any more
                except errors.Conflict as exc:
                    failed.append(q["metadata"]["name"])
                    last = exc
            if last is None:
                return
            if attempt == self.retries:
                raise last
            quotas = await self._fresh(attrs.namespace or "", failed)

    async def _write(self, q: Obj, used: quota.ResourceList) -> None:
        """A status update of the quota, compare-and-swap on the resourceVersion it was read at."""
        assert self._registry is not None, "started with the registry"
        meta = q["metadata"]
        body = {**q, "status": {**(q.get("status") or {}), "used": quota.to_text(used)}}
        await self._registry.update(RESOURCEQUOTAS, meta["namespace"], meta["name"], body,
                                    WriteOptions(field_manager=FIELD_MANAGER), subresource="status")

    async def _fresh(self, namespace: str, names: list[str]) -> list[Obj]:
        """The quotas named, as etcd holds them now (deleted ones left out)."""
        assert self._registry is not None, "started with the registry"
        storage = self._registry.storage
        out = []
        for name in names:
            found = await storage.get(storage.key(RESOURCEQUOTAS.plural, namespace, name))
            if found is not None:
                out.append(found)
        return out
