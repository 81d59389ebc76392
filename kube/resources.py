"""The API's resource types: group, version, kind, plural name and scope.

One table, read by the apiserver (to route, store and serve discovery) and by clients (to turn a manifest's
apiVersion/kind into a URL path). Adding a resource type starts here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "CERTIFICATESIGNINGREQUESTS", "CONFIGMAPS", "CONTROLLERREVISIONS",
    "CRONJOBS", "CSISTORAGECAPACITIES", "DAEMONSETS", "DEPLOYMENTS", "ENDPOINTS",
    "EVENTS", "EVENTS_V1", "INGRESSCLASSES", "INGRESSES", "JOBS", "LEASES", "NAMESPACES", "NETWORKPOLICIES", "NODES",
    "PERSISTENTVOLUMECLAIMS", "PERSISTENTVOLUMES", "PODS", "REPLICASETS", "RESOURCES", "SECRETS", "SERVICEACCOUNTS",
    "SERVICES", "STATEFULSETS", "STORAGECLASSES",
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


_WORKLOAD = ("status", "scale")
_CORE, _APPS, _BATCH, _RBAC = "", "apps", "batch", "rbac.authorization.k8s.io"
_NETWORKING, _STORAGE = "networking.k8s.io", "storage.k8s.io"

RESOURCES: tuple[ResourceType, ...] = (
    ResourceType(_CORE, "v1", "Namespace", "namespaces", False, ("ns",), subresources=("status", "finalize")),
    ResourceType(_CORE, "v1", "Node", "nodes", False, ("no",), subresources=("status",)),
    ResourceType(
        _CORE, "v1", "Pod", "pods", True, ("po",), ("all",),
        subresources=("status", "binding", "log", "eviction", "ephemeralcontainers"),
    ),
    ResourceType(_CORE, "v1", "Event", "events", True, ("ev",)),
    ResourceType(_CORE, "v1", "Service", "services", True, ("svc",), ("all",), subresources=("status",)),
    ResourceType(_CORE, "v1", "Endpoints", "endpoints", True, ("ep",), singular="endpoints"),
    ResourceType(_CORE, "v1", "ConfigMap", "configmaps", True, ("cm",)),
    ResourceType(_CORE, "v1", "Secret", "secrets", True),
    ResourceType(_CORE, "v1", "ServiceAccount", "serviceaccounts", True, ("sa",), subresources=("token",)),
    ResourceType(_CORE, "v1", "PersistentVolume", "persistentvolumes", False, ("pv",), subresources=("status",)),
    ResourceType(
        _CORE, "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, ("pvc",), subresources=("status",),
    ),
    ResourceType(_CORE, "v1", "LimitRange", "limitranges", True, ("limits",)),
    ResourceType(_CORE, "v1", "ResourceQuota", "resourcequotas", True, ("quota",), subresources=("status",)),
    ResourceType(_APPS, "v1", "Deployment", "deployments", True, ("deploy",), ("all",), subresources=_WORKLOAD),
    ResourceType(_APPS, "v1", "ReplicaSet", "replicasets", True, ("rs",), ("all",), subresources=_WORKLOAD),
    ResourceType(_APPS, "v1", "DaemonSet", "daemonsets", True, ("ds",), ("all",), subresources=("status",)),
    ResourceType(_APPS, "v1", "StatefulSet", "statefulsets", True, ("sts",), ("all",), subresources=_WORKLOAD),
    ResourceType(_APPS, "v1", "ControllerRevision", "controllerrevisions", True),
    ResourceType(_BATCH, "v1", "Job", "jobs", True, (), ("all",), subresources=("status",)),
    ResourceType(_BATCH, "v1", "CronJob", "cronjobs", True, ("cj",), ("all",), subresources=("status",)),
    ResourceType("coordination.k8s.io", "v1", "Lease", "leases", True),
    ResourceType(_STORAGE, "v1", "StorageClass", "storageclasses", False, ("sc",)),
    ResourceType(_STORAGE, "v1", "CSIStorageCapacity", "csistoragecapacities", True),
    ResourceType(_NETWORKING, "v1", "Ingress", "ingresses", True, ("ing",), subresources=("status",)),
    ResourceType(_NETWORKING, "v1", "IngressClass", "ingressclasses", False),
    ResourceType(_NETWORKING, "v1", "NetworkPolicy", "networkpolicies", True, ("netpol",)),
    ResourceType("certificates.k8s.io", "v1", "CertificateSigningRequest", "certificatesigningrequests", False,
                 ("csr",), subresources=("status", "approval")),
    ResourceType("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", False, ("pc",)),
    ResourceType(_RBAC, "v1", "Role", "roles", True),
    ResourceType(_RBAC, "v1", "ClusterRole", "clusterroles", False),
    ResourceType(_RBAC, "v1", "RoleBinding", "rolebindings", True),
    ResourceType(_RBAC, "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    # The core/v1 Events again, in events.k8s.io/v1's form: one storage (apiserver.registry.events). Last, so
    # that `events` and `ev` name the core/v1 resource first, as kubectl's discovery order makes them.
    ResourceType("events.k8s.io", "v1", "Event", "events", True, ("ev",)),
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
SERVICES = _get("", "v1", "services")
ENDPOINTS = _get("", "v1", "endpoints")
CONFIGMAPS = _get("", "v1", "configmaps")
SECRETS = _get("", "v1", "secrets")
SERVICEACCOUNTS = _get("", "v1", "serviceaccounts")
PERSISTENTVOLUMES = _get("", "v1", "persistentvolumes")
PERSISTENTVOLUMECLAIMS = _get("", "v1", "persistentvolumeclaims")
DEPLOYMENTS = _get("apps", "v1", "deployments")
REPLICASETS = _get("apps", "v1", "replicasets")
DAEMONSETS = _get("apps", "v1", "daemonsets")
STATEFULSETS = _get("apps", "v1", "statefulsets")
CONTROLLERREVISIONS = _get("apps", "v1", "controllerrevisions")
JOBS = _get("batch", "v1", "jobs")
CRONJOBS = _get("batch", "v1", "cronjobs")
STORAGECLASSES = _get(_STORAGE, "v1", "storageclasses")
CSISTORAGECAPACITIES = _get(_STORAGE, "v1", "csistoragecapacities")
INGRESSES = _get(_NETWORKING, "v1", "ingresses")
INGRESSCLASSES = _get(_NETWORKING, "v1", "ingressclasses")
NETWORKPOLICIES = _get(_NETWORKING, "v1", "networkpolicies")
EVENTS_V1 = _get("events.k8s.io", "v1", "events")
CERTIFICATESIGNINGREQUESTS = _get("certificates.k8s.io", "v1", "certificatesigningrequests")
