"""The verbs of the generic REST registry: get, list, create, update, patch, delete, watch, and the
`status` and `binding` subresources, for every resource type through its Strategy.

Nothing here knows HTTP: handlers get decoded input and return objects or raise `kube.errors.ApiError`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from apiserver import admission, patching
from apiserver.registry import strategy_for
from apiserver.registry.base import SYSTEM_METADATA, spec_changed
from apiserver.storage import EtcdStorage
from apiserver.watchcache import CacheEvent, WatchCache, translate
from kube import errors, fields, labels, timeutil
from kube.resources import NAMESPACES, PODS, ResourceType

__all__ = ["ListOptions", "Registry"]

Obj = dict[str, Any]
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' generateName alphabet: no vowels, no look-alikes


class ListOptions:
    def __init__(
        self,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int = 0,
        continue_token: str | None = None,
        resource_version: str | None = None,
    ) -> None:
        try:
            self.labels = labels.parse(label_selector)
        except ValueError as exc:
            raise errors.BadRequest(f"unable to parse requirement: {exc}") from exc
        try:
            self.fields = fields.parse(field_selector)
        except ValueError as exc:
            raise errors.BadRequest(str(exc)) from exc
        if limit < 0:
            raise errors.BadRequest("limit must be non-negative")
        self.limit = limit
        self.continue_token = continue_token
        self.resource_version = resource_version

    def matches(self, obj: Obj) -> bool:
        return self.labels.matches((obj.get("metadata") or {}).get("labels")) and self.fields.matches(obj)


def _encode_continue(revision: int, next_key: bytes) -> str:
    raw = json.dumps({"rv": revision, "start": next_key.decode()}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_continue(token: str) -> tuple[int, bytes]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        return int(data["rv"]), data["start"].encode()
    except (ValueError, KeyError, TypeError) as exc:
        raise errors.BadRequest(f"invalid continue token: {exc}") from exc


class Registry:
    """Resource operations over etcd, with one watch cache per resource type."""

    def __init__(self, storage: EtcdStorage, resources: list[ResourceType], watch_cache_size: int = 10_000,
                 toleration_seconds: tuple[int, int] = (300, 300)) -> None:
        self.storage = storage
        self.toleration_seconds = toleration_seconds  # (not-ready, unreachable) for DefaultTolerationSeconds
        self.caches = {r: WatchCache(storage, r.plural, watch_cache_size) for r in resources}
        self.namespaces = admission.NamespaceIndex(self)

    async def start(self) -> None:
        for cache in self.caches.values():
            await cache.start()
        await self.namespaces.start()

    async def stop(self) -> None:
        await self.namespaces.stop()
        for cache in self.caches.values():
            await cache.stop()

    def _key(self, rt: ResourceType, namespace: str | None, name: str) -> str:
        return self.storage.key(rt.plural, namespace if rt.namespaced else None, name)

    # ------------------------------------------------------------------ reads

    async def get(self, rt: ResourceType, namespace: str | None, name: str) -> Obj:
        obj = await self.storage.get(self._key(rt, namespace, name))
        if obj is None:
            raise errors.NotFound.for_object(rt.plural, name, rt.group)
        return obj

    async def list(self, rt: ResourceType, namespace: str | None, opts: ListOptions) -> Obj:
        prefix = self.storage.prefix(rt.plural, namespace if rt.namespaced else None)
        name = opts.fields.exact("metadata.name")
        revision, start = (0, None)
        if opts.continue_token:
            revision, start = _decode_continue(opts.continue_token)
        items: list[Obj] = []
        next_key: bytes | None = None
        if name is not None and (not rt.namespaced or namespace):
            # A field selector on the name (kubectl's WatchList and `get NAME -w`) is one key read.
            obj = await self.storage.get(self._key(rt, namespace, name))
            items = [obj] if obj is not None and opts.matches(obj) else []
            revision = await self.storage.revision()
        else:
            while True:
                want = opts.limit - len(items) if opts.limit else 0
                page = await self.storage.list(prefix, revision=revision or None, limit=want, start=start)
                revision = page.revision
                for obj in page.items:
                    if opts.limit and len(items) == opts.limit:
                        next_key = self._key(rt, obj["metadata"].get("namespace"), obj["metadata"]["name"]).encode()
                        break
                    if opts.matches(obj):
                        items.append(obj)
                else:
                    if page.next_key is not None and len(items) < opts.limit:
                        start = page.next_key
                        continue
                    next_key = page.next_key
                break
        meta: Obj = {"resourceVersion": str(revision)}
        if next_key is not None:
            meta["continue"] = _encode_continue(revision, next_key)
        return {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta, "items": items}

    # ------------------------------------------------------------------ create

    async def create(
        self, rt: ResourceType, namespace: str | None, body: Obj, field_validation: str = "Warn"
    ) -> tuple[Obj, list[str]]:
        strategy = strategy_for(rt)
        obj, warnings = self._decode(rt, body, namespace, field_validation)
        meta = obj["metadata"]
        if meta.get("resourceVersion"):
            raise errors.BadRequest("resourceVersion should not be set on objects to be created")
        generate = not meta.get("name") and meta.get("generateName")
        if generate:
            meta["name"] = meta["generateName"] + "".join(secrets.choice(_NAME_CHARS) for _ in range(5))
        if rt is PODS:
            admission.add_default_tolerations(obj, *self.toleration_seconds)
        meta["uid"] = str(uuid.uuid4())  # before validation: a Job's generated selector is made from it
        strategy.check(strategy.validate(obj), obj)
        if rt.namespaced:
            await self.namespaces.check(rt, meta["namespace"])
        meta["creationTimestamp"] = timeutil.now()
        meta["generation"] = 1
        for key in ("deletionTimestamp", "deletionGracePeriodSeconds"):
            meta.pop(key, None)
        strategy.prepare_for_create(obj)
        await _hook(strategy, "before_create", obj, self.storage)
        try:
            for attempt in range(5):
                try:
                    return await self.storage.create(self._key(rt, namespace, meta["name"]), obj), warnings
                except errors.AlreadyExists:
                    if not generate or attempt == 4:
                        raise errors.AlreadyExists.for_object(rt.plural, meta["name"], rt.group) from None
                    meta["name"] = meta["generateName"] + "".join(secrets.choice(_NAME_CHARS) for _ in range(5))
            raise AssertionError("unreachable")
        except BaseException:
            await _hook(strategy, "create_failed", obj, self.storage)
            raise

    def _decode(self, rt: ResourceType, body: Obj, namespace: str | None, field_validation: str,
                name: str | None = None) -> tuple[Obj, list[str]]:
        if not isinstance(body, dict):
            raise errors.BadRequest("the request body must be a JSON or YAML object")
        kind, api_version = body.get("kind"), body.get("apiVersion")
        if kind and kind != rt.kind:
            raise errors.BadRequest(f"the kind of the provided object ({kind}) does not match the resource "
                                    f"({rt.kind})")
        if api_version and api_version != rt.api_version:
            raise errors.BadRequest(f"the API version of the provided object ({api_version}) does not match "
                                    f"the resource ({rt.api_version})")
        meta = body.get("metadata")
        if meta is not None and not isinstance(meta, dict):
            raise errors.Invalid.for_object(rt.kind, "", [{"reason": "FieldValueInvalid", "field": "metadata",
                                                           "message": "Invalid value: must be an object"}])
        meta = dict(meta or {})
        if rt.namespaced:
            if meta.get("namespace") and namespace and meta["namespace"] != namespace:
                raise errors.BadRequest("the namespace of the provided object does not match the namespace "
                                        "sent on the request")
            meta["namespace"] = namespace or meta.get("namespace")
        else:
            meta.pop("namespace", None)
        if name is not None:
            if meta.get("name") and meta["name"] != name:
                raise errors.BadRequest(f'the name of the object ({meta["name"]}) does not match the name on '
                                        f"the URL ({name})")
            meta["name"] = name
        obj, warnings = strategy_for(rt).decode({**body, "metadata": meta}, field_validation)
        obj["kind"], obj["apiVersion"] = rt.kind, rt.api_version
        obj.setdefault("metadata", {})
        return obj, warnings

    # ------------------------------------------------------------------ update

    async def update(
        self, rt: ResourceType, namespace: str | None, name: str, body: Obj, field_validation: str = "Warn",
        subresource: str | None = None,
    ) -> tuple[Obj, list[str]]:
        """PUT: replace the object (or its status), compare-and-swap on the body's resourceVersion if set."""
        new, warnings = self._decode(rt, body, namespace, field_validation, name)
        expected = new["metadata"].get("resourceVersion")

        async def mutate(current: Obj) -> Obj:
            if expected and expected != current["metadata"]["resourceVersion"]:
                raise errors.Conflict.stale(rt.plural, name, rt.group)
            return self._prepare_update(rt, new, current, subresource)

        return await self._guaranteed_update(rt, namespace, name, mutate), warnings

    async def patch(
        self, rt: ResourceType, namespace: str | None, name: str, patch: Any, content_type: str,
        field_validation: str = "Warn", subresource: str | None = None,
    ) -> tuple[Obj, list[str]]:
        warnings: list[str] = []

        async def mutate(current: Obj) -> Obj:
            patched = patching.apply_patch(current, patch, content_type)
            expected = (patched.get("metadata") or {}).get("resourceVersion")
            if expected and expected != current["metadata"]["resourceVersion"]:
                raise errors.Conflict.stale(rt.plural, name, rt.group)
            new, found = self._decode(rt, patched, namespace, field_validation, name)
            warnings[:] = found
            return self._prepare_update(rt, new, current, subresource)

        return await self._guaranteed_update(rt, namespace, name, mutate), warnings

    async def update_with(self, rt: ResourceType, namespace: str | None, name: str,
                          change: Callable[[Obj], Obj]) -> tuple[Obj, list[str]]:
        """A server-side read-modify-write (e.g. the scale subresource): `change` gets a copy of the stored
        object and returns the new one, which is validated like any update; retried on conflicts."""

        async def mutate(current: Obj) -> Obj:
            return self._prepare_update(rt, change(json.loads(json.dumps(current))), current, None)

        return await self._guaranteed_update(rt, namespace, name, mutate), []

    def _prepare_update(self, rt: ResourceType, new: Obj, current: Obj, subresource: str | None) -> Obj:
        strategy = strategy_for(rt)
        if subresource == "status":
            new = strategy.prepare_for_status_update(new, current)
        elif subresource == "finalize":
            new = strategy.prepare_for_finalize(new, current)
        else:
            strategy.prepare_for_update(new, current)
        meta, old_meta = new["metadata"], current["metadata"]
        if meta.get("uid") and meta["uid"] != old_meta.get("uid"):
            raise errors.Conflict(f'Precondition failed: UID in precondition: {meta["uid"]}, UID in object meta: '
                                  f'{old_meta.get("uid")}', name=meta.get("name"), kind=rt.plural)
        for key in SYSTEM_METADATA:
            if key in old_meta:
                meta[key] = old_meta[key]
            else:
                meta.pop(key, None)
        if old_meta.get("deletionTimestamp"):
            # Finalizers may only be removed while an object is being deleted.
            added = set(meta.get("finalizers") or []) - set(old_meta.get("finalizers") or [])
            if added:
                raise errors.Forbidden(
                    f'no new finalizers can be added if the object is being deleted, found new finalizers '
                    f'{sorted(added)}', name=meta["name"], kind=rt.plural)
        if subresource != "status" and spec_changed(new, current):
            meta["generation"] = int(old_meta.get("generation") or 1) + 1
        strategy.check(strategy.validate_update(new, current), new)
        return new

    async def _guaranteed_update(
        self, rt: ResourceType, namespace: str | None, name: str, mutate: Callable[[Obj], Any]
    ) -> Obj:
        key = self._key(rt, namespace, name)
        strategy = strategy_for(rt)
        seen: list[Obj] = []

        async def mutate_with_hooks(current: Obj) -> Any:
            new = await mutate(current)
            seen[:] = [current]
            if new is not None:
                await _hook(strategy, "before_update", new, current, self.storage)
            return new

        try:
            stored = await self.storage.guaranteed_update(key, mutate_with_hooks)
        except errors.NotFound:
            raise errors.NotFound.for_object(rt.plural, name, rt.group) from None
        except errors.Conflict as exc:
            if exc.reason == "Conflict" and exc.name is None:
                raise errors.Conflict.stale(rt.plural, name, rt.group) from None
            raise
        if seen and stored is not seen[0]:
            await _hook(strategy, "after_update", stored, seen[0], self.storage)
        if rt is NAMESPACES:
            self.namespaces.observe(stored)
        meta = stored["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and not meta.get(
            "deletionGracePeriodSeconds"
        ) and not strategy_for(rt).holds_deletion(stored):
            await self._remove(key, stored, rt)
        return stored

    # ------------------------------------------------------------------ delete

    async def delete(
        self, rt: ResourceType, namespace: str | None, name: str, options: Obj | None = None
    ) -> tuple[Obj, bool]:
        """Delete now, or mark with a deletionTimestamp when finalizers or a grace period hold it back.

        Returns the object and whether it is gone from storage."""
        options = options or {}
        preconditions = options.get("preconditions") or {}
        policy = options.get("propagationPolicy")
        if policy is None and options.get("orphanDependents") is not None:  # the deprecated spelling
            policy = "Orphan" if options["orphanDependents"] else "Background"
        if policy not in (None, "Orphan", "Background", "Foreground"):
            raise errors.BadRequest(f"propagationPolicy {policy!r} is not one of Orphan, Background, Foreground")
        strategy = strategy_for(rt)
        key = self._key(rt, namespace, name)
        for _ in range(16):
            current = await self.storage.get(key)
            if current is None:
                raise errors.NotFound.for_object(rt.plural, name, rt.group)
            meta = current["metadata"]
            if preconditions.get("uid") and preconditions["uid"] != meta.get("uid"):
                raise errors.Conflict(
                    f'Precondition failed: UID in precondition: {preconditions["uid"]}, UID in object meta: '
                    f'{meta.get("uid")}', name=name, kind=rt.plural)
            if preconditions.get("resourceVersion") and preconditions["resourceVersion"] != meta["resourceVersion"]:
                raise errors.Conflict.stale(rt.plural, name, rt.group)
            grace = strategy.graceful_delete_seconds(current, options.get("gracePeriodSeconds"))
            finalizers = list(meta.get("finalizers") or [])
            gc_finalizer = _GC_FINALIZERS.get(policy or "")
            if gc_finalizer and gc_finalizer not in finalizers:
                finalizers = [f for f in finalizers if f not in _GC_FINALIZERS.values()] + [gc_finalizer]
            if not finalizers and grace == 0 and not strategy.holds_deletion(current):
                try:
                    await self._remove(key, current, rt)
                except errors.Conflict:
                    continue
                return current, True
            marked = json.loads(json.dumps(current))
            mmeta = marked["metadata"]
            if finalizers:
                mmeta["finalizers"] = finalizers
            strategy.mark_deleting(marked)
            previous = mmeta.get("deletionGracePeriodSeconds")
            if not mmeta.get("deletionTimestamp") or (previous is not None and grace < previous):
                mmeta["deletionTimestamp"] = timeutil.after(grace)
                mmeta["deletionGracePeriodSeconds"] = grace
            elif previous is None:
                mmeta["deletionGracePeriodSeconds"] = grace
            if mmeta == meta:
                return current, False
            try:
                stored = await self.storage.update(key, marked, int(meta["resourceVersion"]))
            except errors.Conflict:
                continue
            if rt is NAMESPACES:
                self.namespaces.observe(stored)
            return stored, False
        raise errors.Conflict(f"too many concurrent writers to {rt.plural} {name!r}")

    async def _remove(self, key: str, current: Obj, rt: ResourceType | None = None) -> None:
        await self.storage.delete(key, int(current["metadata"]["resourceVersion"]))
        if rt is not None:
            await _hook(strategy_for(rt), "after_delete", current, self.storage)

    async def delete_collection(
        self, rt: ResourceType, namespace: str | None, opts: ListOptions, options: Obj | None
    ) -> Obj:
        listed = await self.list(rt, namespace, opts)
        for obj in listed["items"]:
            with contextlib.suppress(errors.NotFound):
                await self.delete(rt, obj["metadata"].get("namespace"), obj["metadata"]["name"], options)
        return listed

    # ------------------------------------------------------------------ pods/binding

    async def bind(self, namespace: str, name: str, body: Obj) -> Obj:
        target = (body or {}).get("target") or {}
        node = target.get("name")
        if not node:
            raise errors.Invalid.for_object("Binding", name, [{"reason": "FieldValueRequired",
                                                               "field": "target.name",
                                                               "message": "Required value"}])
        uid = ((body or {}).get("metadata") or {}).get("uid")

        async def mutate(pod: Obj) -> Obj:
            if uid and pod["metadata"].get("uid") != uid:
                raise errors.Conflict(f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
                                      f"{pod['metadata'].get('uid')}", name=name, kind="pods")
            if pod["metadata"].get("deletionTimestamp"):
                raise errors.Conflict(f"pod {name} is being deleted, cannot be assigned to a host",
                                      name=name, kind="pods")
            if pod["spec"].get("nodeName"):
                raise errors.Conflict(f'pod {name} is already assigned to node "{pod["spec"]["nodeName"]}"',
                                      name=name, kind="pods")
            pod["spec"]["nodeName"] = node
            status = pod.setdefault("status", {})
            conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
            conditions.append({"type": "PodScheduled", "status": "True",
                               "lastTransitionTime": timeutil.now()})
            status["conditions"] = conditions
            return pod

        await self._guaranteed_update(PODS, namespace, name, mutate)
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}

    # ------------------------------------------------------------------ watch

    async def watch(
        self, rt: ResourceType, namespace: str | None, opts: ListOptions, *,
        send_initial_events: bool = False, allow_bookmarks: bool = False, bookmark_interval: float = 30.0,
    ) -> AsyncIterator[Obj]:
        """Watch events as dicts {type, object}. Synthetic ADDED for existing objects when the watch starts
        from "" / "0" (or with sendInitialEvents), then live events from the watch cache."""
        cache = self.caches[rt]

        def matches(obj: Obj) -> bool:
            if rt.namespaced and namespace and obj["metadata"].get("namespace") != namespace:
                return False
            return opts.matches(obj)

        rv = opts.resource_version
        initial: list[Obj] = []
        if send_initial_events or not rv or rv == "0":
            listed = await self.list(rt, namespace, ListOptions(
                field_selector=None, label_selector=None, resource_version=None))
            since = int(listed["metadata"]["resourceVersion"])
            initial = [o for o in listed["items"] if matches(o)]
        else:
            try:
                since = int(rv)
            except ValueError:
                raise errors.BadRequest(f"invalid resourceVersion {rv!r}") from None
        if since < cache.oldest:
            # Older than the cache's window: serve this watcher from etcd directly (410 if compacted).
            async for event in self._watch_etcd(rt, since, matches):
                yield event
            return
        sub = cache.subscribe(since)
        try:
            for obj in initial:
                yield {"type": "ADDED", "object": obj}
            if send_initial_events:
                yield _bookmark(rt, since, initial_end=True)
            last = since
            while True:
                try:
                    event = await asyncio.wait_for(sub.queue.get(), bookmark_interval) if allow_bookmarks \
                        else await sub.queue.get()
                except TimeoutError:
                    last = max(last, cache.revision)  # the queue is drained: all up to here was sent
                    yield _bookmark(rt, last)
                    continue
                if event is None:
                    return  # closed by the cache (reset or overflow): the client resumes from its last RV
                last = event.revision
                out = translate(event, matches)
                if out is not None:
                    yield {"type": out[0], "object": out[1]}
        finally:
            cache.unsubscribe(sub)

    async def _watch_etcd(self, rt: ResourceType, since: int, matches: Callable[[Obj], bool]) -> AsyncIterator[Obj]:
        async for stored in self.storage.watch(self.storage.prefix(rt.plural), since + 1):
            out = translate(CacheEvent(stored.revision, stored.key, stored.object, stored.prev), matches)
            if out is not None:
                yield {"type": out[0], "object": out[1]}


def _bookmark(rt: ResourceType, revision: int, initial_end: bool = False) -> Obj:
    meta: Obj = {"resourceVersion": str(revision)}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    return {"type": "BOOKMARK", "object": {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta}}


async def _hook(strategy: Any, name: str, *args: Any) -> None:
    """Call a strategy's optional async storage hook, for kinds that keep state beside the object (a
    Service's ClusterIP and NodePort allocations): `before_create(obj, storage)` (may change obj or raise
    Invalid), `create_failed(obj, storage)`, `before_update(new, old, storage)` (inside the compare-and-swap
    retry loop, so it must be idempotent), `after_update(stored, previous, storage)`, `after_delete(obj, storage)`.
    """
    hook = getattr(strategy, name, None)
    if hook is not None:
        await hook(*args)


#: propagationPolicy -> the finalizer that makes the garbage collector finish the deletion
_GC_FINALIZERS = {"Orphan": "orphan", "Foreground": "foregroundDeletion"}


async def ensure_namespaces(registry: Registry, names: list[str]) -> None:
    """Create the namespaces every cluster has from the start; existing ones are left as they are."""
    for name in names:
        with contextlib.suppress(errors.AlreadyExists):
            await registry.create(NAMESPACES, None, {"metadata": {"name": name}})
