"""The verbs of the generic REST registry: get, list, create, update, patch, delete, watch, and the
`status` and `binding` subresources, for every resource type through its Strategy.

Nothing here knows HTTP or any kind: handlers get decoded input and typed options and return objects or
raise `kube.errors.ApiError`. What is special about a kind lives in its Strategy or an admission plugin.
Every write runs the same pipeline — decode, mutating admission, validation, validating admission, then
ONE storage write — so a refused request has changed nothing; a dry run takes the same path over a
storage that does not write (`apiserver.dryrun`). A resource type served over another one's storage
(events.k8s.io/v1 Events) is converted at the edges: bodies to the storage form once decoded, objects
handed back (and matched by selectors, and patched) in the served form (`apiserver.registry.conversion`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from apiserver import fieldmanager, patching
from apiserver.admission import Attributes, Chain, default_chain
from apiserver.dryrun import DryRunStorage
from apiserver.params import ContinueToken, DeleteOptions, ListOptions, WriteOptions
from apiserver.registry import conversion_for, godecode, storage_of, strategy_for
from apiserver.registry.base import SYSTEM_METADATA, spec_changed
from apiserver.storage import EtcdStorage
from apiserver.watchcache import CacheEvent, WatchCache, translate
from kube import conditions as kconditions
from kube import errors, fastjson, timeutil
from kube.resources import NAMESPACES, ResourceType

__all__ = ["ListOptions", "Registry", "WriteOptions"]

Obj = dict[str, Any]
Objs = list[Obj]  # aliases: inside Registry, `list` is the verb
Strs = list[str]
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' generateName alphabet: no vowels, no look-alikes
#: how long a read waits for a resourceVersion this apiserver has not seen yet, as Kubernetes' watch cache
FRESHNESS_WAIT_SECONDS = 3.0


class Registry:
    """Resource operations over etcd, with one watch cache per resource type and an admission chain."""

    def __init__(self, storage: EtcdStorage, resources: list[ResourceType], watch_cache_size: int = 10_000,
                 admission: Chain | None = None) -> None:
        self.storage = storage
        self.dry_storage = DryRunStorage(storage)
        self.caches = {r: WatchCache(storage, r.plural, watch_cache_size) for r in resources if storage_of(r) is r}
        self.admission = admission if admission is not None else default_chain()

    async def start(self) -> None:
        for cache in self.caches.values():
            await cache.start()
        await self.admission.start(self)

    async def stop(self) -> None:
        await self.admission.stop()
        for cache in self.caches.values():
            await cache.stop()

    def forget_compacted(self, revision: int) -> None:
        """Called after each etcd compaction (apiserver.compaction): the caches drop the compacted history."""
        for cache in self.caches.values():
            cache.forget_before(revision)

    def _key(self, rt: ResourceType, namespace: str | None, name: str) -> str:
        return self.storage.key(storage_of(rt).plural, namespace if rt.namespaced else None, name)

    def _storage(self, dry_run: bool) -> EtcdStorage:
        return self.dry_storage if dry_run else self.storage  # type: ignore[return-value]  # same interface

    def _committed(self, rt: ResourceType, stored: Obj, dry_run: bool) -> None:
        if not dry_run:
            self.admission.observe(rt, stored)

    async def require_revision(self, revision: int) -> None:
        """A resourceVersion newer than etcd's own is waited for briefly (another apiserver may have just
        written it), then answered 504 "Too large resource version", as Kubernetes does."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FRESHNESS_WAIT_SECONDS
        while (current := await self.storage.revision()) < revision:
            if loop.time() >= deadline:
                raise errors.Timeout.too_large_resource_version(revision, current)
            await asyncio.sleep(0.1)

    # ------------------------------------------------------------------ reads

    async def get(self, rt: ResourceType, namespace: str | None, name: str,
                  resource_version: int | None = None) -> Obj:
        if resource_version:
            await self.require_revision(resource_version)
        obj = await self.storage.get(self._key(rt, namespace, name))
        if obj is None:
            raise errors.NotFound.for_object(rt.plural, name, rt.group)
        return _served(rt, obj)

    async def list(self, rt: ResourceType, namespace: str | None, opts: ListOptions) -> Obj:
        prefix = self.storage.prefix(storage_of(rt).plural, namespace if rt.namespaced else None)
        name = opts.fields.exact("metadata.name")
        revision, start = 0, None
        token = opts.continuation()
        if token is not None:
            revision, start = token.revision, (prefix + token.start).encode()
        elif opts.revision and opts.resource_version_match == "Exact":
            revision = opts.revision
        elif opts.revision:
            await self.require_revision(opts.revision)
        items: Objs = []
        next_key: bytes | None = None
        try:
            if name is not None and (not rt.namespaced or namespace) and not revision:
                # A field selector on the name (kubectl's WatchList and `get NAME -w`) is one key read.
                obj = await self.storage.get(self._key(rt, namespace, name))
                obj = _served(rt, obj) if obj is not None else None
                items = [obj] if obj is not None and opts.matches(obj) else []
                revision = await self.storage.revision()
            else:
                revision, next_key = await self._list_pages(rt, prefix, opts, revision, start, items)
        except errors.Gone:
            if token is None:
                raise errors.Gone("The resourceVersion for the provided list is too old.") from None
            raise errors.Gone("The provided continue parameter is too old to display a consistent list result. "
                              "You can start a new list without the continue parameter.") from None
        except errors.Timeout:
            if token is None:
                raise
            raise errors.BadRequest("continue key is not valid: its resourceVersion is newer than the "
                                    "store's") from None
        meta: Obj = {"resourceVersion": str(revision)}
        if next_key is not None:
            start_key = next_key.decode()[len(prefix):]
            meta["continue"] = ContinueToken(revision, start_key, opts.selectors_digest()).encode()
        return {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta, "items": items}

    async def _list_pages(self, rt: ResourceType, prefix: str, opts: ListOptions, revision: int, start: bytes | None,
                          items: Objs) -> tuple[int, bytes | None]:
        """Fill `items` with up to opts.limit matches from etcd pages; the revision read at and the key
        where the next page starts (None at the end)."""
        while True:
            want = opts.limit - len(items) if opts.limit else 0
            page = await self.storage.list(prefix, revision=revision or None, limit=want, start=start)
            revision = page.revision
            for obj in map(functools.partial(_served, rt), page.items):
                if opts.limit and len(items) == opts.limit:
                    meta = obj["metadata"]
                    return revision, self._key(rt, meta.get("namespace"), meta["name"]).encode()
                if opts.matches(obj):
                    items.append(obj)
            if page.next_key is not None and len(items) < opts.limit:
                start = page.next_key
                continue
            return revision, page.next_key

    # ------------------------------------------------------------------ create

    async def create(
        self, rt: ResourceType, namespace: str | None, body: Obj, options: WriteOptions | None = None,
        duplicates: Strs | None = None, applied: bool = False,
    ) -> tuple[Obj, Strs]:
        """POST. `applied`: the body is an apply's result and already carries its managedFields."""
        opts = options or WriteOptions()
        strategy = strategy_for(rt)
        obj, warnings = self._decode(rt, body, namespace, opts.field_validation, duplicates=duplicates)
        meta = obj["metadata"]
        if meta.get("resourceVersion"):
            raise errors.BadRequest("resourceVersion should not be set on objects to be created")
        generate = not meta.get("name") and meta.get("generateName")
        if generate:
            meta["name"] = meta["generateName"] + "".join(secrets.choice(_NAME_CHARS) for _ in range(5))
        meta["uid"] = str(uuid.uuid4())  # before validation: a Job's generated selector is made from it
        attrs = Attributes("CREATE", rt, meta.get("namespace"), meta.get("name") or "", obj, dry_run=opts.dry_run,
                           user=opts.user)
        await self.admission.admit(attrs)
        strategy.set_requester(obj, opts.user)
        strategy.check(strategy.validate(obj), obj)
        await self.admission.validate(attrs)
        meta["creationTimestamp"] = timeutil.now()
        if strategy.tracks_generation:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        for key in ("deletionTimestamp", "deletionGracePeriodSeconds"):
            meta.pop(key, None)
        strategy.prepare_for_create(obj)
        if not applied:
            _track(rt, None, obj, opts, None)
        storage = self._storage(opts.dry_run)
        await _hook(strategy, "before_create", obj, storage)
        try:
            for attempt in range(5):
                try:
                    stored = await storage.create(self._key(rt, namespace, meta["name"]), obj)
                    break
                except errors.AlreadyExists:
                    if not generate or attempt == 4:
                        raise errors.AlreadyExists.for_object(rt.plural, meta["name"], rt.group) from None
                    meta["name"] = meta["generateName"] + "".join(secrets.choice(_NAME_CHARS) for _ in range(5))
        except BaseException:
            await _hook(strategy, "create_failed", obj, storage)
            raise
        self._committed(rt, stored, opts.dry_run)
        return _served(rt, stored), [*warnings, *attrs.warnings]

    def _decode(self, rt: ResourceType, body: Obj, namespace: str | None, field_validation: str,
                name: str | None = None, duplicates: Strs | None = None) -> tuple[Obj, Strs]:
        if not isinstance(body, dict):
            raise errors.BadRequest("the request body must be a JSON or YAML object")
        if duplicates and field_validation == "Strict":
            raise errors.BadRequest("strict decoding error: " + ", ".join(f'json: duplicate field "{d}"'
                                                                          for d in duplicates))
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
        conversion = conversion_for(rt)
        if conversion is not None:
            obj = conversion.to_storage(obj)
        obj.setdefault("metadata", {})
        if duplicates and field_validation == "Warn":
            warnings = [*(f'duplicate field "{d}"' for d in duplicates), *warnings]
        return obj, warnings

    # ------------------------------------------------------------------ update

    async def update(
        self, rt: ResourceType, namespace: str | None, name: str, body: Obj, options: WriteOptions | None = None,
        subresource: str | None = None, duplicates: Strs | None = None,
    ) -> tuple[Obj, Strs]:
        """PUT: replace the object (or its status), compare-and-swap on the body's resourceVersion if set."""
        opts = options or WriteOptions()
        new, warnings = self._decode(rt, body, namespace, opts.field_validation, name, duplicates)
        expected = new["metadata"].get("resourceVersion")
        admitted: Strs = []

        async def mutate(current: Obj) -> Obj:
            if expected and expected != current["metadata"]["resourceVersion"]:
                raise errors.Conflict.stale(rt.plural, name, rt.group)
            admitted.clear()
            return await self._prepare_update(rt, fastjson.copy(new), current, subresource, opts, admitted)

        return await self._guaranteed_update(rt, namespace, name, mutate, opts.dry_run), [*warnings, *admitted]

    async def patch(
        self, rt: ResourceType, namespace: str | None, name: str, patch: Any, content_type: str,
        options: WriteOptions | None = None, subresource: str | None = None,
    ) -> tuple[Obj, Strs]:
        opts = options or WriteOptions()
        warnings: Strs = []
        if content_type.split(";")[0].strip() == patching.APPLY:
            obj, found, _ = await self.apply(rt, namespace, name, patch, opts, subresource)
            return obj, found

        async def mutate(current: Obj) -> Obj:
            patched = patching.apply_patch(_served(rt, current), patch, content_type)
            expected = (patched.get("metadata") or {}).get("resourceVersion")
            if expected and expected != current["metadata"]["resourceVersion"]:
                raise errors.Conflict.stale(rt.plural, name, rt.group)
            try:
                new, found = self._decode(rt, patched, namespace, opts.field_validation, name)
            except godecode.DecodeError as exc:  # as Kubernetes' patcher words a result that does not decode
                raise exc.in_patch(patch, patched, content_type.startswith(patching.STRATEGIC)) from None
            warnings[:] = found
            return await self._prepare_update(rt, new, current, subresource, opts, warnings)

        return await self._guaranteed_update(rt, namespace, name, mutate, opts.dry_run), warnings

    async def apply(self, rt: ResourceType, namespace: str | None, name: str, config: Any, opts: WriteOptions,
                    subresource: str | None = None) -> tuple[Obj, Strs, bool]:
        """Server-side apply: merge the manager's configuration in, by field ownership; create if missing
        (the third value: whether it was created, which Kubernetes answers 201)."""
        if not isinstance(config, dict):
            raise errors.BadRequest("the apply configuration must be an object")
        if not config.get("apiVersion") or not config.get("kind"):
            raise errors.BadRequest("the apply configuration must set apiVersion and kind")
        warnings: Strs = []

        def applied(live: Obj | None) -> Obj:
            try:
                return fieldmanager.apply(live, config, opts.manager, rt.api_version, opts.force, timeutil.now(),
                                          subresource)
            except errors.Conflict as exc:  # name the object, as Kubernetes' Status does
                raise errors.Conflict(exc.message, name=name, kind=rt.plural, group=rt.group or None,
                                      causes=exc.causes) from None

        async def mutate(current: Obj) -> Obj:
            new, found = self._decode(rt, applied(_served(rt, current)), namespace, opts.field_validation, name)
            warnings[:] = found
            return await self._prepare_update(rt, new, current, subresource, opts, warnings, track=False)

        try:
            return await self._guaranteed_update(rt, namespace, name, mutate, opts.dry_run), warnings, False
        except errors.NotFound:
            if subresource is not None:
                raise
        body = applied(None)
        body.setdefault("metadata", {})["name"] = name
        created, found = await self.create(rt, namespace, body, opts, applied=True)
        return created, found, True

    async def update_with(self, rt: ResourceType, namespace: str | None, name: str,
                          change: Callable[[Obj], Obj], options: WriteOptions | None = None) -> tuple[Obj, Strs]:
        """A server-side read-modify-write (e.g. the scale subresource): `change` gets a copy of the stored
        object and returns the new one, which is validated like any update; retried on conflicts."""
        opts = options or WriteOptions()
        admitted: Strs = []

        async def mutate(current: Obj) -> Obj:
            changed = change(fastjson.copy(_served(rt, current)))
            conversion = conversion_for(rt)
            new = conversion.to_storage(changed) if conversion is not None else changed
            admitted.clear()
            return await self._prepare_update(rt, new, current, None, opts, admitted)

        return await self._guaranteed_update(rt, namespace, name, mutate, opts.dry_run), admitted

    async def _prepare_update(self, rt: ResourceType, new: Obj, current: Obj, subresource: str | None,
                              opts: WriteOptions, warnings: Strs | None = None, track: bool = True) -> Obj:
        """The update pipeline up to the write; admission's warnings are added to `warnings`."""
        strategy = strategy_for(rt).for_subresource(subresource)
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
        if strategy.tracks_generation and subresource != "status" and spec_changed(new, current):
            meta["generation"] = int(old_meta.get("generation") or 1) + 1
        if track:
            _track(rt, current, new, opts, subresource)
        attrs = Attributes("UPDATE", rt, meta.get("namespace"), meta["name"], new, current, subresource,
                           opts.dry_run, user=opts.user)
        await self.admission.admit(attrs)
        strategy.check(strategy.validate_update(new, current), new)
        await self.admission.validate(attrs)
        if warnings is not None:
            warnings.extend(attrs.warnings)
        return new

    async def _guaranteed_update(
        self, rt: ResourceType, namespace: str | None, name: str, mutate: Callable[[Obj], Any],
        dry_run: bool = False,
    ) -> Obj:
        key = self._key(rt, namespace, name)
        strategy = strategy_for(rt)
        storage = self._storage(dry_run)
        seen: Objs = []

        async def mutate_with_hooks(current: Obj) -> Any:
            new = await mutate(current)
            seen[:] = [current]
            if new is not None:
                await _hook(strategy, "before_update", new, current, storage)
            return new

        try:
            stored = await storage.guaranteed_update(key, mutate_with_hooks)
        except errors.NotFound:
            raise errors.NotFound.for_object(rt.plural, name, rt.group) from None
        except errors.Conflict as exc:
            if exc.reason == "Conflict" and exc.name is None:
                raise errors.Conflict.stale(rt.plural, name, rt.group) from None
            raise
        if seen and stored is not seen[0]:
            await _hook(strategy, "after_update", stored, seen[0], storage)
        self._committed(rt, stored, dry_run)
        meta = stored["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and not meta.get(
            "deletionGracePeriodSeconds"
        ) and not strategy.holds_deletion(stored):
            await self._remove(key, stored, rt, dry_run)
        return _served(rt, stored)

    # ------------------------------------------------------------------ delete

    async def delete(
        self, rt: ResourceType, namespace: str | None, name: str, options: DeleteOptions | None = None
    ) -> tuple[Obj, bool]:
        """Delete now, or mark with a deletionTimestamp when finalizers or a grace period hold it back.

        Returns the object and whether it is gone from storage."""
        opts = options or DeleteOptions()
        strategy = strategy_for(rt)
        storage = self._storage(opts.dry_run)
        key = self._key(rt, namespace, name)
        for _ in range(16):
            current = await self.storage.get(key)
            if current is None:
                raise errors.NotFound.for_object(rt.plural, name, rt.group)
            meta = current["metadata"]
            if opts.precondition_uid and opts.precondition_uid != meta.get("uid"):
                raise errors.Conflict(
                    f"Precondition failed: UID in precondition: {opts.precondition_uid}, UID in object meta: "
                    f'{meta.get("uid")}', name=name, kind=rt.plural)
            if opts.precondition_resource_version and opts.precondition_resource_version != meta["resourceVersion"]:
                raise errors.Conflict.stale(rt.plural, name, rt.group)
            await self.admission.validate(Attributes("DELETE", rt, namespace, name, None, current,
                                                     dry_run=opts.dry_run, user=opts.user))
            grace = strategy.graceful_delete_seconds(current, opts.grace_period_seconds)
            finalizers = list(meta.get("finalizers") or [])
            gc_finalizer = _GC_FINALIZERS.get(opts.propagation_policy or "")
            if gc_finalizer and gc_finalizer not in finalizers:
                finalizers = [f for f in finalizers if f not in _GC_FINALIZERS.values()] + [gc_finalizer]
            if not finalizers and grace == 0 and not strategy.holds_deletion(current):
                try:
                    await self._remove(key, current, rt, opts.dry_run)
                except errors.Conflict:
                    continue
                return _served(rt, current), True
            marked = fastjson.copy(current)
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
                return _served(rt, current), False
            try:
                stored = await storage.update(key, marked, int(meta["resourceVersion"]))
            except errors.Conflict:
                continue
            self._committed(rt, stored, opts.dry_run)
            return _served(rt, stored), False
        raise errors.Conflict(f"too many concurrent writers to {rt.plural} {name!r}")

    async def _remove(self, key: str, current: Obj, rt: ResourceType, dry_run: bool = False) -> None:
        storage = self._storage(dry_run)
        await storage.delete(key, int(current["metadata"]["resourceVersion"]))
        await _hook(strategy_for(rt), "after_delete", current, storage)

    async def delete_collection(
        self, rt: ResourceType, namespace: str | None, opts: ListOptions, options: DeleteOptions | None
    ) -> Obj:
        listed = await self.list(rt, namespace, opts)
        for obj in listed["items"]:
            with contextlib.suppress(errors.NotFound):
                await self.delete(rt, obj["metadata"].get("namespace"), obj["metadata"]["name"], options)
        return listed

    # ------------------------------------------------------------------ pods/binding

    async def bind(self, rt: ResourceType, namespace: str, name: str, body: Obj,
                   options: WriteOptions | None = None) -> Obj:
        opts = options or WriteOptions()
        if not isinstance(body, dict):
            raise errors.BadRequest("the body of pods/binding must be a Binding")
        target = body.get("target")
        node = target.get("name") if isinstance(target, dict) else None
        if not node or not isinstance(node, str):
            raise errors.Invalid.for_object("Binding", name, [{"reason": "FieldValueRequired",
                                                               "field": "target.name",
                                                               "message": "Required value"}])
        meta = body.get("metadata")
        uid = meta.get("uid") if isinstance(meta, dict) else None

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
            status["conditions"] = kconditions.set_condition(status.get("conditions"),
                                                            {"type": "PodScheduled", "status": "True"}, timeutil.now())
            return pod

        await self._guaranteed_update(rt, namespace, name, mutate, opts.dry_run)
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}

    # ------------------------------------------------------------------ watch

    async def watch(
        self, rt: ResourceType, namespace: str | None, opts: ListOptions, *,
        bookmark_interval: float = 30.0,
    ) -> AsyncIterator[Obj]:
        """Watch events as dicts {type, object}. Synthetic ADDED for existing objects when the watch starts
        from "" / "0" (or with sendInitialEvents), then live events from the watch cache."""
        cache = self.caches[storage_of(rt)]
        conversion = conversion_for(rt)

        def matches(obj: Obj) -> bool:
            if rt.namespaced and namespace and obj["metadata"].get("namespace") != namespace:
                return False
            return opts.matches(obj)

        initial: Objs = []
        if opts.send_initial_events or not opts.revision:
            listed = await self.list(rt, namespace, ListOptions())
            since = int(listed["metadata"]["resourceVersion"])
            initial = [o for o in listed["items"] if matches(o)]
        else:
            since = opts.revision
            if since > cache.revision:
                await self.require_revision(since)
        if since < cache.oldest:
            # Older than the cache's window: serve this watcher from etcd directly (410 if compacted).
            async for event in self._watch_etcd(rt, since, matches):
                yield event
            return
        sub = cache.subscribe(since)
        try:
            for obj in initial:
                yield {"type": "ADDED", "object": obj}
            if opts.send_initial_events:
                yield _bookmark(rt, since, initial_end=True)
            last = since
            while True:
                try:
                    cached = await asyncio.wait_for(sub.queue.get(), bookmark_interval) if opts.allow_bookmarks \
                        else await sub.queue.get()
                except TimeoutError:
                    last = max(last, cache.revision)  # the queue is drained: all up to here was sent
                    yield _bookmark(rt, last)
                    continue
                if cached is None:
                    return  # closed by the cache (reset or overflow): the client resumes from its last RV
                last = cached.revision
                if conversion is not None:
                    cached = CacheEvent(cached.revision, cached.key, conversion.served(cached.object),
                                        conversion.served(cached.prev))
                out = translate(cached, matches)
                if out is not None:
                    yield {"type": out[0], "object": out[1]}
        finally:
            cache.unsubscribe(sub)

    async def _watch_etcd(self, rt: ResourceType, since: int, matches: Callable[[Obj], bool]) -> AsyncIterator[Obj]:
        try:
            async for stored in self.storage.watch(self.storage.prefix(storage_of(rt).plural), since + 1):
                out = translate(CacheEvent(stored.revision, stored.key, _served(rt, stored.object),
                                           _served(rt, stored.prev)), matches)
                if out is not None:
                    yield {"type": out[0], "object": out[1]}
        except errors.Gone:
            raise errors.Gone("The resourceVersion for the provided watch is too old.") from None


def _served(rt: ResourceType, obj: Any) -> Any:
    """A stored object (or None) in the form `rt` serves it."""
    conversion = conversion_for(rt)
    return conversion.served(obj) if conversion is not None else obj


def _track(rt: ResourceType, live: Obj | None, new: Obj, opts: WriteOptions, subresource: str | None) -> None:
    """Record in new's managedFields what this write's manager now owns (Kubernetes' fieldmanager on every
    create, update and patch), in the fields of the version the request used."""
    entries = fieldmanager.update(_served(rt, live), _served(rt, new), opts.manager, rt.api_version, subresource,
                                  timeutil.now())
    if entries:
        new["metadata"]["managedFields"] = entries
    else:
        new["metadata"].pop("managedFields", None)


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
    The storage is the dry-run one for a dry run, so allocations are computed and not taken.
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
