"""ClusterIP and NodePort allocation for Services, kept in etcd as one key per allocated value.

Several apiservers share one etcd, so allocating is a create-if-absent transaction on the value's own key
(`/registry/ipaddresses/<ip>`, as Kubernetes' IPAddress objects; `/registry/servicenodeports/<port>`). The
record names its Service (namespace, name, uid): a retried write by the same Service finds its own record and
succeeds, so allocation is idempotent per Service. `repair` releases records whose Service is gone or no
longer uses them (left behind when an apiserver dies between allocating and storing) and re-records values a
stored Service uses without a record.

Picks without an explicit value come from the upper part of a range first, leaving a lower band for values
users choose (Kubernetes' KEP-3070 for IPs, KEP-3668 for ports), so e.g. kube-dns's `.10` is not taken by chance.
"""

from __future__ import annotations

import ipaddress
import logging
import random
from dataclasses import dataclass
from typing import Any

from apiserver.storage import EtcdStorage
from kube import errors, timeutil

__all__ = [
    "DEFAULT_NODE_PORT_RANGE",
    "DEFAULT_SERVICE_CIDR",
    "AllocationError",
    "Allocator",
    "IPRange",
    "Owner",
    "PortRange",
    "parse_port_range",
    "parse_service_cidr",
]

log = logging.getLogger("apiserver.allocators")

Obj = dict[str, Any]

#: kubeadm's service range start, narrowed to a /16 (65k Services): clear of Docker's default bridge
#: (172.17.0.0/16) and address pools (172.17-31.0.0/16, 192.168.0.0/16), and of the usual pod range 10.244/16.
DEFAULT_SERVICE_CIDR = "10.96.0.0/16"
DEFAULT_NODE_PORT_RANGE = "30000-32767"


class AllocationError(Exception):
    """A value could not be allocated; `detail` is worded as Kubernetes words it."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class Owner:
    namespace: str
    name: str
    uid: str


class IPRange:
    """The usable addresses of a CIDR (network and broadcast excluded, as Kubernetes does)."""

    kind = "IP"

    def __init__(self, cidr: str) -> None:
        self.network = ipaddress.IPv4Network(cidr, strict=False)
        if self.network.num_addresses < 8:
            raise ValueError(f"service IP range {cidr} is too small (need at least a /29)")
        self.first = int(self.network.network_address) + 1
        self.size = self.network.num_addresses - 2

    def __str__(self) -> str:
        return str(self.network)

    def contains(self, value: str) -> bool:
        try:
            n = int(ipaddress.IPv4Address(value))
        except ValueError:
            return False
        return self.first <= n < self.first + self.size

    def value(self, offset: int) -> str:
        return str(ipaddress.IPv4Address(self.first + offset))

    def offset(self, value: str) -> int:
        return int(ipaddress.IPv4Address(value)) - self.first

    def static_band(self) -> int:
        """How many low offsets dynamic allocation leaves to explicit choices first (KEP-3070)."""
        return min(max(16, self.size // 16), 256)

    def not_in_range(self, value: str) -> str:
        return f"the provided IP ({value}) is not in the valid range. The range of valid IPs is {self.network}"


class PortRange:
    kind = "port"

    def __init__(self, base: int, size: int) -> None:
        self.first, self.size = base, size

    def __str__(self) -> str:
        return f"{self.first}-{self.first + self.size - 1}"

    def contains(self, value: int) -> bool:
        return isinstance(value, int) and self.first <= value < self.first + self.size

    def value(self, offset: int) -> int:
        return self.first + offset

    def offset(self, value: int) -> int:
        return value - self.first

    def static_band(self) -> int:
        """KEP-3668: min(max(16, size/32), 128)."""
        return min(max(16, self.size // 32), 128)

    def not_in_range(self, value: int) -> str:
        return f"provided port is not in the valid range. The range of valid ports is {self}"


def parse_service_cidr(text: str) -> IPRange:
    try:
        return IPRange(text)
    except ValueError as exc:
        raise ValueError(f"invalid --service-cluster-ip-range {text!r}: {exc}") from None


def parse_port_range(text: str) -> PortRange:
    """`30000-32767` (or `30000+2768`, base and size, as Kubernetes also accepts)."""
    try:
        if "+" in text:
            base, size = (int(x) for x in text.split("+", 1))
        else:
            low, high = (int(x) for x in text.split("-", 1))
            base, size = low, high - low + 1
    except ValueError:
        raise ValueError(f"invalid --service-node-port-range {text!r}: want LOW-HIGH, e.g. 30000-32767") from None
    if base < 1 or size < 1 or base + size - 1 > 65535:
        raise ValueError(f"invalid --service-node-port-range {text!r}: ports must be within 1-65535")
    return PortRange(base, size)


class Allocator:
    """Allocations of one kind (IPs or node ports) over one range, one etcd key per value."""

    def __init__(self, storage: EtcdStorage, resource: str, rng: IPRange | PortRange) -> None:
        self.storage = storage
        self.resource = resource  # the etcd key segment: "ipaddresses" or "servicenodeports"
        self.range = rng

    def key(self, value: str | int) -> str:
        return self.storage.key(self.resource, None, str(value))

    def _record(self, value: str | int, owner: Owner) -> Obj:
        record: Obj = {
            "metadata": {"name": str(value), "creationTimestamp": timeutil.now(),
                         "labels": {"ipaddress.kubernetes.io/managed-by": "kubelite-apiserver"}},
            "spec": {"parentRef": {"group": "", "resource": "services", "namespace": owner.namespace,
                                   "name": owner.name, "uid": owner.uid}},
        }
        if self.resource == "ipaddresses":
            record = {"apiVersion": "networking.k8s.io/v1", "kind": "IPAddress", **record}
        return record

    @staticmethod
    def owner_of(record: Obj) -> Owner:
        ref = (record.get("spec") or {}).get("parentRef") or {}
        return Owner(ref.get("namespace", ""), ref.get("name", ""), ref.get("uid", ""))

    async def allocate(self, value: str | int, owner: Owner) -> None:
        """Take `value` for `owner`: fine if `owner` already holds it; AllocationError if out of range or taken."""
        if not self.range.contains(value):  # type: ignore[arg-type]
            raise AllocationError(self.range.not_in_range(value))  # type: ignore[arg-type]
        try:
            await self.storage.create(self.key(value), self._record(value, owner))
            return
        except errors.AlreadyExists:
            pass
        current = await self.storage.get(self.key(value))
        if current is not None and self.owner_of(current).uid == owner.uid:
            return
        if current is None:  # released between our create and get: try once more
            try:
                await self.storage.create(self.key(value), self._record(value, owner))
                return
            except errors.AlreadyExists:
                pass
        raise AllocationError(f"provided {self.range.kind} is already allocated")

    async def allocate_next(self, owner: Owner) -> str | int:
        """A free value, from above the static band first; AllocationError("range is full") otherwise."""
        taken = {self.range.offset(v) for v in await self.values()}  # type: ignore[arg-type]
        band = self.range.static_band()
        bands = ((band, self.range.size), (0, band)) if self.range.size > band else ((0, self.range.size),)
        for low, high in bands:
            while (offset := _free_offset(low, high, taken)) is not None:
                value = self.range.value(offset)
                try:
                    await self.storage.create(self.key(value), self._record(value, owner))
                    return value
                except errors.AlreadyExists:
                    taken.add(offset)  # another apiserver took it just now
        raise AllocationError("range is full")

    async def values(self) -> list[str | int]:
        page_items = await self._records()
        return [self._value(r) for r in page_items]

    async def records(self) -> dict[str | int, Obj]:
        return {self._value(r): r for r in await self._records()}

    async def _records(self) -> list[Obj]:
        out: list[Obj] = []
        start: bytes | None = None
        prefix = self.storage.prefix(self.resource)
        while True:
            page = await self.storage.list(prefix, limit=1000, start=start)
            out += page.items
            if page.next_key is None:
                return out
            start = page.next_key

    def _value(self, record: Obj) -> str | int:
        name = record["metadata"]["name"]
        return int(name) if isinstance(self.range, PortRange) else name

    async def release(self, value: str | int, uid: str) -> bool:
        """Free `value` if `uid` holds it (compare-and-delete); whether it was freed."""
        current = await self.storage.get(self.key(value))
        if current is None or self.owner_of(current).uid != uid:
            return False
        try:
            await self.storage.delete(self.key(value), int(current["metadata"]["resourceVersion"]))
        except errors.Conflict:
            return False
        return True

    async def release_all(self, uid: str, keep: set[str | int] | None = None) -> list[str | int]:
        """Free every value `uid` holds except `keep`."""
        freed = []
        for value, record in (await self.records()).items():
            mine = self.owner_of(record).uid == uid and value not in (keep or set())
            if mine and await self.release(value, uid):
                freed.append(value)
        return freed


def _free_offset(low: int, high: int, taken: set[int]) -> int | None:
    """A random free offset in [low, high): a random start, then the next free one (cheap while sparse)."""
    if high <= low:
        return None
    start = random.randrange(low, high)
    for i in range(high - low):
        offset = low + (start - low + i) % (high - low)
        if offset not in taken:
            return offset
    return None
