"""etcd storage: the only code in kubelite that talks to etcd.

Keys are `/registry/{resource}/{namespace}/{name}` (cluster-scoped: `/registry/{resource}/{name}`), values the
object's JSON. An object's resourceVersion is its key's mod_revision and is set on read, never stored.
Every write is an etcd transaction that compares the key's mod_revision (or absence), so no update is lost.

Values of some resources may pass through a transformer on their way to and from etcd (encryption at rest,
apiserver.encryption), chosen by the resource part of the key alone: reads, lists, watches and the
compare-and-swap loop all see plain objects. A value read with an older key is *stale* and rewritten by the next
update even when the object is unchanged (Kubernetes' GuaranteedUpdate), so `kubectl replace` re-encrypts it.
A value that cannot be read is a 500 InternalError for that object, never a crash.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import aetcd
import aetcd.exceptions
import grpc
from aetcd import rpc

from apiserver.etcdclient import EtcdClient, EtcdTLS, parse_endpoints
from kube import errors, fastjson

__all__ = ["EtcdStorage", "ListPage", "StoredEvent", "ValueTransformer", "same_object"]

log = logging.getLogger("apiserver.storage")

Obj = dict[str, Any]
Ops = list[Any]  # etcd transaction operations (an alias: inside EtcdStorage, `list` is a method)
PREFIX = "/registry/"


def prefix_end(prefix: bytes) -> bytes:
    """The smallest key greater than every key starting with `prefix` (etcd's range_end for a prefix)."""
    return prefix[:-1] + bytes([prefix[-1] + 1])


@dataclass
class ListPage:
    items: list[Obj]
    revision: int
    next_key: bytes | None  # first key of the next page, if any


@dataclass
class StoredEvent:
    type: str  # PUT | DELETE
    key: str
    revision: int
    object: Obj | None  # the object after a PUT, None after DELETE
    prev: Obj | None  # the object before the change, if it existed


class ValueTransformer(Protocol):
    """What etcd holds for a resource, to and from its plain JSON (apiserver.encryption's transformers)."""

    def from_storage(self, data: bytes, context: bytes) -> tuple[bytes, bool]:
        """(plain value, stale); ValueError when the value cannot be read."""

    def to_storage(self, data: bytes, context: bytes) -> bytes: ...


def _decode(value: bytes, mod_revision: int) -> Obj:
    obj = fastjson.loads(value)
    obj.setdefault("metadata", {})["resourceVersion"] = str(mod_revision)
    return obj


def _unreadable(key: str, exc: Exception) -> errors.InternalError:
    """As Kubernetes' etcd3 store answers a value its transformer cannot read."""
    why = f"unable to transform key {key!r}: {exc}"
    return errors.InternalError(f"Internal error occurred: {why}", causes=[{"message": why}])


def _encode(obj: Obj) -> bytes:
    meta = obj.get("metadata") or {}
    stored = {**obj, "metadata": {k: v for k, v in meta.items() if k != "resourceVersion"}}
    return fastjson.dumps(stored)


def _translate(exc: Exception) -> errors.ApiError:
    if isinstance(exc, aetcd.exceptions.RevisionCompactedError):
        return errors.Gone(f"too old resource version: {exc}")
    if isinstance(exc, grpc.aio.AioRpcError) and exc.code() == grpc.StatusCode.OUT_OF_RANGE:
        if "future revision" in (exc.details() or ""):
            return errors.Timeout("Too large resource version", causes=[
                {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}])
        return errors.Gone("too old resource version: the requested revision has been compacted")
    return errors.ServiceUnavailable(f"etcd: {exc}")


class EtcdStorage:
    def __init__(self, endpoint: str, timeout: float = 10.0,
                 transformers: Mapping[str, ValueTransformer] | None = None, tls: EtcdTLS | None = None) -> None:
        """`endpoint`: --etcd-servers (comma-separated URLs; https needs `tls`, which may name only a CA);
        `transformers`: {resource: transformer} for the values under `/registry/{resource}/`."""
        endpoints, https = parse_endpoints(endpoint)
        self.endpoint = endpoint
        self._client = EtcdClient(endpoints, (tls or EtcdTLS()) if https else None, timeout=timeout)
        self._transformers = dict(transformers or {})

    # ------------------------------------------------------------------ values

    def _transformer(self, key: str) -> ValueTransformer | None:
        if not self._transformers or not key.startswith(PREFIX):
            return None
        return self._transformers.get(key[len(PREFIX):].split("/", 1)[0])

    def _read(self, key: str, value: bytes, mod_revision: int) -> tuple[Obj, bool]:
        """The object a stored value holds and whether the value is stale; InternalError if unreadable."""
        transformer = self._transformer(key)
        if transformer is None:
            return _decode(value, mod_revision), False
        try:
            plain, stale = transformer.from_storage(value, key.encode())
            return _decode(plain, mod_revision), stale
        except ValueError as exc:  # the transformer's errors and undecodable JSON alike
            raise _unreadable(key, exc) from None

    def _value(self, key: str, obj: Obj) -> bytes:
        data = _encode(obj)
        transformer = self._transformer(key)
        return transformer.to_storage(data, key.encode()) if transformer is not None else data

    async def connect(self) -> None:
        await self._client.connect()

    async def close(self) -> None:
        await self._client.close()

    @staticmethod
    def key(resource: str, namespace: str | None, name: str) -> str:
        return f"{PREFIX}{resource}/{namespace}/{name}" if namespace else f"{PREFIX}{resource}/{name}"

    @staticmethod
    def prefix(resource: str, namespace: str | None = None) -> str:
        return f"{PREFIX}{resource}/{namespace}/" if namespace else f"{PREFIX}{resource}/"

    # ------------------------------------------------------------------ reads

    async def revision(self) -> int:
        """The store's current revision (a cheap ranged read of nothing)."""
        resp = await self._range(b"\0", b"\0", limit=1, count_only=True)
        return resp.header.revision

    async def get(self, key: str) -> Obj | None:
        return (await self._get(key))[0]

    async def _get(self, key: str) -> tuple[Obj | None, bool]:
        try:
            found = await self._client.get(key.encode())
        except Exception as exc:
            raise _translate(exc) from exc
        return self._read(key, found.value, found.mod_revision) if found else (None, False)

    async def list(
        self, prefix: str, *, revision: int | None = None, limit: int = 0, start: bytes | None = None
    ) -> ListPage:
        """One page of objects under `prefix` as of `revision` (default: now)."""
        begin = start or prefix.encode()
        resp = await self._range(begin, prefix_end(prefix.encode()), limit=limit, revision=revision or 0)
        items = [self._read(kv.key.decode(), kv.value, kv.mod_revision)[0] for kv in resp.kvs]
        next_key = resp.kvs[-1].key + b"\0" if resp.more and resp.kvs else None
        return ListPage(items, revision if revision else resp.header.revision, next_key)

    async def _range(self, key: bytes, end: bytes, *, limit: int = 0, revision: int = 0,
                     count_only: bool = False) -> Any:
        request = rpc.RangeRequest(key=key, range_end=end, limit=limit, revision=revision, count_only=count_only)
        try:
            return await self._client.kvstub.Range(request, timeout=self._client._timeout,
                                                    metadata=self._client.metadata)
        except Exception as exc:
            raise _translate(exc) from exc

    # ------------------------------------------------------------------ writes

    async def create(self, key: str, obj: Obj) -> Obj:
        """Store a new object; `AlreadyExists` if the key exists."""
        txn = self._client.transactions
        ok, responses = await self._txn(
            [txn.create(key.encode()) == 0], [txn.put(key.encode(), self._value(key, obj))], []
        )
        if not ok:
            raise errors.AlreadyExists(f"{key} already exists")
        return self._with_revision(obj, responses[0].response_put.header.revision)

    async def update(self, key: str, obj: Obj, expected_revision: int) -> Obj:
        """Replace the object if its key is still at `expected_revision`; else raise `Conflict`."""
        txn = self._client.transactions
        ok, responses = await self._txn(
            [txn.mod(key.encode()) == expected_revision], [txn.put(key.encode(), self._value(key, obj))], []
        )
        if not ok:
            raise errors.Conflict("stale resourceVersion")
        return self._with_revision(obj, responses[0].response_put.header.revision)

    async def delete(self, key: str, expected_revision: int) -> int:
        """Delete the key if it is still at `expected_revision`; the deletion's revision, or Conflict."""
        txn = self._client.transactions
        ok, responses = await self._txn(
            [txn.mod(key.encode()) == expected_revision], [txn.delete(key.encode())], []
        )
        if not ok:
            raise errors.Conflict("stale resourceVersion")
        return responses[0].response_delete_range.header.revision

    async def guaranteed_update(
        self, key: str, mutate: Callable[[Obj], Awaitable[Obj | None]], retries: int = 16
    ) -> Obj:
        """Read, apply `mutate` (may return None: no write), write with compare-and-swap; retry on races.

        `mutate` raises ApiError to refuse; NotFound is raised here when the key is absent.
        """
        for _ in range(retries):
            current, stale = await self._get(key)
            if current is None:
                raise errors.NotFound(f"{key} not found")
            revision = int(current["metadata"]["resourceVersion"])
            updated = await mutate(fastjson.copy(current))
            if updated is None or (same_object(updated, current) and not stale):
                return current
            try:
                return await self.update(key, updated, revision)
            except errors.Conflict:
                continue
        raise errors.Conflict(f"too many concurrent writers to {key}")

    async def _txn(self, compare: Ops, success: Ops, failure: Ops) -> tuple[bool, Ops]:
        try:
            return await self._client.transaction(compare=compare, success=success, failure=failure)
        except Exception as exc:
            raise _translate(exc) from exc

    @staticmethod
    def _with_revision(obj: Obj, revision: int) -> Obj:
        out = {**obj, "metadata": {**obj.get("metadata", {}), "resourceVersion": str(revision)}}
        return out

    # ------------------------------------------------------------------ watch

    async def watch(self, prefix: str, start_revision: int) -> AsyncIterator[StoredEvent]:
        """Every change under `prefix` from `start_revision` on, in order. Raises Gone when compacted."""
        try:
            stream = await self._client.watch(
                prefix.encode(), range_end=prefix_end(prefix.encode()), start_revision=start_revision, prev_kv=True
            )
            async for ev in stream:
                kv, prev = ev.kv, ev.prev_kv
                key = kv.key.decode()
                # A create has no previous value: aetcd then hands over an empty KeyValue, not None.
                prev_obj = self._watched(key, prev) if prev is not None and prev.value else None
                if ev.kind != "PUT":
                    yield StoredEvent("DELETE", key, kv.mod_revision, None, prev_obj)
                elif (obj := self._watched(key, kv)) is not None:
                    yield StoredEvent("PUT", key, kv.mod_revision, obj, prev_obj)
        except asyncio.CancelledError:
            raise
        except errors.ApiError:
            raise
        except Exception as exc:
            raise _translate(exc) from exc

    def _watched(self, key: str, kv: Any) -> Obj | None:
        """A watched value, or None if this apiserver cannot read it (written with a key it lacks, or
        tampered): watchers skip that change and reads of the object answer the error, while the watch of
        every other object goes on."""
        try:
            return self._read(key, kv.value, kv.mod_revision)[0]
        except errors.InternalError as exc:
            log.error("watch: the value of %s at revision %d skipped: %s", key, kv.mod_revision, exc.message)
            return None

    # ------------------------------------------------------------------ compaction

    async def claim_compaction(self, key: str, expected_version: int, revision: int) -> tuple[bool, int, int, bytes]:
        """One compare-and-swap on `key`'s version (Kubernetes' compact_rev_key): if it is still `expected_version`,
        write `revision` there (this caller compacts); else read it (another apiserver did).
        (succeeded, the store's revision, the key's version after the txn, the key's value)."""
        key_bytes = key.encode()
        request = rpc.TxnRequest(
            compare=[rpc.Compare(result=rpc.Compare.EQUAL, target=rpc.Compare.VERSION, key=key_bytes,
                                 version=expected_version)],
            success=[rpc.RequestOp(request_put=rpc.PutRequest(key=key_bytes, value=str(revision).encode()))],
            failure=[rpc.RequestOp(request_range=rpc.RangeRequest(key=key_bytes))],
        )
        try:
            resp = await self._client.kvstub.Txn(request, timeout=self._client._timeout,
                                                  metadata=self._client.metadata)
        except Exception as exc:
            raise _translate(exc) from exc
        if resp.succeeded:
            return True, resp.header.revision, expected_version + 1, str(revision).encode()
        kvs = resp.responses[0].response_range.kvs
        return False, resp.header.revision, kvs[0].version if kvs else 0, kvs[0].value if kvs else b""

    async def compact(self, revision: int) -> None:
        """Drop etcd's history before `revision`: reads and watches from older revisions then get Gone."""
        try:
            await self._client.compact(revision)
        except Exception as exc:
            raise _translate(exc) from exc


def same_object(a: Obj, b: Obj) -> bool:
    """Whether two objects would be stored as the same bytes (a write that changes nothing is skipped)."""
    return _encode(a) == _encode(b)
