"""The API's resource types: group, version, kind, plural name and scope.

One table, read by the apiserver (to route, store and serve discovery) and by clients (to turn a manifest's
apiVersion/kind into a URL path). Adding a resource type starts here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "EVENTS", "LEASES", "NAMESPACES", "NODES", "PODS", "RESOURCES",
    "ResourceType", "by_kind", "by_plural", "lookup", "object_path",
]


@dataclass(frozen=True)
class ResourceType:
    group: str  # "" for the core group
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = (
        "create", "delete", "deletecollection", "get", "list", "patch", "update", "watch",
    )
    singular: str = field(default="")

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular_name(self) -> str:
        return self.singular or self.kind.lower()

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def qualified(self) -> str:
        """`pods` for the core group, `deployments.apps` elsewhere: how Status messages name a resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def collection_path(self, namespace: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            return f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{self.plural}"

    def object_path(self, name: str, namespace: str | None = None, subresource: str | None = None) -> str:
        path = f"{self.collection_path(namespace)}/{name}"
        return f"{path}/{subresource}" if subresource else path


RESOURCES: tuple[ResourceType, ...] = (
    ResourceType("", "v1", "Namespace", "namespaces", False, ("ns",), subresources=("status",)),
    ResourceType("", "v1", "Node", "nodes", False, ("no",), subresources=("status",)),
    ResourceType(
        "", "v1", "Pod", "pods", True, ("po",), ("all",), subresources=("status", "binding", "log"),
    ),
    ResourceType("", "v1", "Event", "events", True, ("ev",)),
    ResourceType("coordination.k8s.io", "v1", "Lease", "leases", True),
)

_BY_KIND = {(r.api_version, r.kind): r for r in RESOURCES}
_BY_PLURAL = {(r.group, r.version, r.plural): r for r in RESOURCES}


def by_kind(api_version: str, kind: str) -> ResourceType | None:
    return _BY_KIND.get((api_version, kind))


def by_plural(group: str, version: str, plural: str) -> ResourceType | None:
    return _BY_PLURAL.get((group, version, plural))


def lookup(name: str) -> ResourceType | None:
    """Find a resource type by what a CLI user types: plural, singular, short name or kind (any case),
    optionally qualified with its group (`deployments.apps`)."""
    name = name.lower()
    base, _, group = name.partition(".")
    for r in RESOURCES:
        if group and r.group != group:
            continue
        if base in (r.plural, r.singular_name, r.kind.lower(), *r.short_names):
            return r
    return None


def object_path(api_version: str, kind: str, name: str, namespace: str | None = None) -> str | None:
    r = by_kind(api_version, kind)
    return r.object_path(name, namespace) if r else None


def _get(group: str, version: str, plural: str) -> ResourceType:
    found = by_plural(group, version, plural)
    assert found is not None, plural
    return found


NAMESPACES = _get("", "v1", "namespaces")
NODES = _get("", "v1", "nodes")
PODS = _get("", "v1", "pods")
EVENTS = _get("", "v1", "events")
LEASES = _get("coordination.k8s.io", "v1", "leases")
