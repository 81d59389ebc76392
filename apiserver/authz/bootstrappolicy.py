"""The default RBAC policy the apiserver ensures at start, as Kubernetes' bootstrappolicy, for kubelite's daemons.

Kubernetes' roles keep their names, rules, labels (`kubernetes.io/bootstrapping: rbac-defaults`) and annotations
(`rbac.authorization.kubernetes.io/autoupdate: "true"`): cluster-admin (bound to system:masters), the aggregated
admin / edit / view built by the clusterrole-aggregation controller from system:aggregate-to-{admin,edit,view},
system:discovery, system:basic-user, system:public-info-viewer, system:monitoring, system:auth-delegator,
system:node, system:node-proxier, system:kube-dns, system:service-account-issuer-discovery, and the kube-system
leader-locking Roles. Adapted to kubelite:

* system:kube-controller-manager holds what kubelite's controllers call (they all run under that one identity,
  where Kubernetes gives each controller a ServiceAccount): `controller_rules()` lists it per controller, read
  from controllers/*.py, plus events and the leader-election Lease;
* system:kube-scheduler is Kubernetes' role plus what kubelite's scheduler also watches (StorageClasses,
  PriorityClasses; it binds no volumes, so system:volume-scheduler is neither made nor bound);
* kubelite's cluster DNS runs as system:kube-proxy: system:kubelite:cluster-dns (namespaces, services, endpoints)
  and a kube-system Role of the same name to register the kube-dns Service and Endpoints;
* system:node's binding has no subjects, as in Kubernetes since 1.8: the Node authorizer grants kubelets what
  they need (an RBAC-only cluster binds the group system:nodes itself, knowing it gives every kubelet every
  Secret; the default never does, because reconciliation never takes a subject away again).

`reconcile_plan` says what to write to reach the policy, as the RBAC post-start hook (storage_rbac.go, with
pkg/registry/rbac/reconciliation) does: create what is missing; on an existing object not annotated
`autoupdate: "false"`, merge in missing labels and annotations, add missing rules (broken down, as Kubernetes
appends them), aggregation selectors and subjects, never remove anything; a binding whose roleRef differs is
deleted and created again (roleRef is immutable).

Neighbours: rbac.py (`covers`, the rule comparison), controllers/clusterroleaggregation.py (fills the aggregated
roles' rules).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from apiserver.authn.user import ALL_AUTHENTICATED, ALL_UNAUTHENTICATED, SYSTEM_MASTERS
from apiserver.authz.rbac import covers
from kube.resources import RESOURCES

__all__ = [
    "AGGREGATE_TO_ADMIN", "AGGREGATE_TO_EDIT", "AGGREGATE_TO_VIEW", "AUTOUPDATE_ANNOTATION", "BOOTSTRAP_LABELS",
    "CREATE", "KUBE_CONTROLLER_MANAGER", "KUBE_PROXY", "KUBE_SCHEDULER", "RBAC_API_VERSION", "RBAC_GROUP", "RECREATE",
    "UPDATE", "ReconcileAction", "cluster_role_bindings", "cluster_roles", "controller_rules",
    "namespace_role_bindings", "namespace_roles", "policy", "reconcile_plan",
]

Obj = dict[str, Any]

RBAC_GROUP = "rbac.authorization.k8s.io"
RBAC_API_VERSION = f"{RBAC_GROUP}/v1"
AUTOUPDATE_ANNOTATION = "rbac.authorization.kubernetes.io/autoupdate"
BOOTSTRAP_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
AGGREGATE_TO_ADMIN = "rbac.authorization.k8s.io/aggregate-to-admin"
AGGREGATE_TO_EDIT = "rbac.authorization.k8s.io/aggregate-to-edit"
AGGREGATE_TO_VIEW = "rbac.authorization.k8s.io/aggregate-to-view"

# The daemons' users (k8s.io/apiserver/pkg/authentication/user), and the groups Kubernetes binds.
KUBE_SCHEDULER = "system:kube-scheduler"
KUBE_CONTROLLER_MANAGER = "system:kube-controller-manager"
KUBE_PROXY = "system:kube-proxy"
ALL_SERVICE_ACCOUNTS = "system:serviceaccounts"
MONITORING_GROUP = "system:monitoring"
KUBE_SYSTEM = "kube-system"

READ = ("get", "list", "watch")
WRITE = ("create", "update", "patch", "delete", "deletecollection")
READ_WRITE = READ + WRITE

CORE, APPS, BATCH, POLICY, AUTOSCALING, EXTENSIONS = "", "apps", "batch", "policy", "autoscaling", "extensions"
AUTHENTICATION, AUTHORIZATION = "authentication.k8s.io", "authorization.k8s.io"
COORDINATION, DISCOVERY, NETWORKING, STORAGE = "coordination.k8s.io", "discovery.k8s.io", "networking.k8s.io", \
    "storage.k8s.io"
CERTIFICATES, NODE, EVENTS, SCHEDULING = "certificates.k8s.io", "node.k8s.io", "events.k8s.io", "scheduling.k8s.io"


# ---------------------------------------------------------------------------- building blocks (rbacv1helpers)


KUBELET_CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"
KUBERNETES_SIGNERS = ("kubernetes.io/kube-apiserver-client", KUBELET_CLIENT_SIGNER, "kubernetes.io/kubelet-serving",
                      "kubernetes.io/legacy-unknown")


def rule(verbs: Iterable[str], groups: Iterable[str], resources: Iterable[str], names: Iterable[str] = ()) -> Obj:
    """A resource rule; like Kubernetes' rule builder, each list sorted and without duplicates."""
    out: Obj = {"apiGroups": sorted(set(groups)), "resources": sorted(set(resources)), "verbs": sorted(set(verbs))}
    if names:
        out["resourceNames"] = sorted(set(names))
    return out


def url_rule(verbs: Iterable[str], *urls: str) -> Obj:
    return {"nonResourceURLs": sorted(set(urls)), "verbs": sorted(set(verbs))}


def events_rule() -> Obj:
    return rule(("create", "update", "patch"), (CORE, EVENTS), ("events",))


def _meta(name: str, namespace: str | None = None, labels: Mapping[str, str] | None = None) -> Obj:
    meta: Obj = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    meta["labels"] = {**(labels or {}), **BOOTSTRAP_LABELS}
    meta["annotations"] = {AUTOUPDATE_ANNOTATION: "true"}
    return meta


def _cluster_role(name: str, rules: list[Obj], labels: Mapping[str, str] | None = None,
                  aggregate: str | None = None) -> Obj:
    role: Obj = {"apiVersion": RBAC_API_VERSION, "kind": "ClusterRole", "metadata": _meta(name, labels=labels)}
    if aggregate is not None:  # its rules are the aggregation controller's to write
        role["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {aggregate: "true"}}]}
    else:
        role["rules"] = rules
    return role


def _user(name: str) -> Obj:
    return {"apiGroup": RBAC_GROUP, "kind": "User", "name": name}


def _group(name: str) -> Obj:
    return {"apiGroup": RBAC_GROUP, "kind": "Group", "name": name}


def _service_account(namespace: str, name: str) -> Obj:
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


def _binding(kind: str, name: str, role_kind: str, subjects: Sequence[Obj], role: str | None = None,
             namespace: str | None = None) -> Obj:
    binding: Obj = {"apiVersion": RBAC_API_VERSION, "kind": kind, "metadata": _meta(name, namespace),
                    "roleRef": {"apiGroup": RBAC_GROUP, "kind": role_kind, "name": role or name}}
    if subjects:
        binding["subjects"] = [dict(s) for s in subjects]
    return binding


# ---------------------------------------------------------------------------- what kubelite's daemons call


def _by_group(resources: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for group, plural in resources:
        grouped.setdefault(group, []).append(plural)
    return grouped


def controller_rules() -> dict[str, list[Obj]]:
    """What each of kubelite's controllers calls (controller name -> rules), read from controllers/*.py: its
    informers (list, watch, cluster-wide), its reads, writes and status writes. Events and the Lease are the
    controller-manager's own (see `cluster_roles`)."""
    collected = _by_group((r.group, r.plural) for r in RESOURCES if r.kind != "Event")
    deletable = _by_group((r.group, r.plural) for r in RESOURCES if r.namespaced and "delete" in r.verbs)
    return {
        "clusterrole-aggregation": [
            # escalate: it writes rules it may not hold itself
            rule(("escalate", "get", "list", "patch", "update", "watch"), (RBAC_GROUP,), ("clusterroles",)),
        ],
        "csrapproving": [
            rule(("get", "list", "watch"), (CERTIFICATES,), ("certificatesigningrequests",)),
            rule(("update",), (CERTIFICATES,), ("certificatesigningrequests/approval",)),
            rule(("approve",), (CERTIFICATES,), ("signers",), names=(KUBELET_CLIENT_SIGNER,)),
            rule(("create",), (AUTHORIZATION,), ("subjectaccessreviews",)),
        ],
        "csrcleaner": [
            rule(("delete", "get", "list", "watch"), (CERTIFICATES,), ("certificatesigningrequests",)),
        ],
        "csrsigning": [
            rule(("get", "list", "watch"), (CERTIFICATES,), ("certificatesigningrequests",)),
            rule(("update",), (CERTIFICATES,), ("certificatesigningrequests/status",)),
            rule(("sign",), (CERTIFICATES,), ("signers",), names=KUBERNETES_SIGNERS),
        ],
        "cronjob": [
            rule(("list", "watch"), (BATCH,), ("cronjobs",)),
            rule(("update",), (BATCH,), ("cronjobs/status",)),
            rule(("create", "delete", "get", "list", "watch"), (BATCH,), ("jobs",)),
        ],
        "daemonset": [
            rule(("list", "watch"), (APPS,), ("daemonsets",)),
            rule(("update",), (APPS,), ("daemonsets/status",)),
            rule(("create", "delete", "list", "patch", "watch"), (CORE,), ("pods",)),
            rule(("get", "list", "watch"), (CORE,), ("nodes",)),
            rule(("create", "delete", "get", "list", "patch", "watch"), (APPS,), ("controllerrevisions",)),
        ],
        "deployment": [
            rule(("list", "patch", "watch"), (APPS,), ("deployments",)),  # patch: the revision annotation
            rule(("update",), (APPS,), ("deployments/status",)),
            rule(("create", "delete", "get", "list", "patch", "update", "watch"), (APPS,), ("replicasets",)),
            rule(("list", "watch"), (CORE,), ("pods",)),
        ],
        "endpoints": [
            rule(("list", "watch"), (CORE,), ("pods", "services")),
            rule(("create", "delete", "list", "update", "watch"), (CORE,), ("endpoints",)),
        ],
        "garbagecollector": [  # every kind it watches (all but events): live reads, owner patches, deletes
            rule(("delete", "get", "list", "patch", "watch"), (group,), plurals)
            for group, plurals in collected.items()
        ],
        "job": [
            rule(("delete", "get", "list", "watch"), (BATCH,), ("jobs",)),
            rule(("update",), (BATCH,), ("jobs/status",)),
            rule(("create", "delete", "list", "patch", "watch"), (CORE,), ("pods",)),
        ],
        "namespace": [
            rule(("list", "watch"), (CORE,), ("namespaces",)),
            rule(("update",), (CORE,), ("namespaces/finalize", "namespaces/status")),
            *(rule(("delete", "list"), (group,), plurals) for group, plurals in deletable.items()),
        ],
        "nodelifecycle": [
            rule(("get", "list", "patch", "watch"), (CORE,), ("nodes",)),  # patch: taints
            rule(("patch",), (CORE,), ("nodes/status",)),
            rule(("list", "watch"), (COORDINATION,), ("leases",)),
            rule(("delete", "list", "watch"), (CORE,), ("pods",)),
        ],
        "replicaset": [
            rule(("list", "watch"), (APPS,), ("replicasets",)),
            rule(("update",), (APPS,), ("replicasets/status",)),
            rule(("create", "delete", "list", "patch", "watch"), (CORE,), ("pods",)),
        ],
        "resourcequota": [  # Kubernetes' resourcequota-controller: it may count any kind (count/<resource>.<group>)
            rule(("list", "watch"), ("*",), ("*",)),
            rule(("update",), (CORE,), ("resourcequotas/status",)),
        ],
        "root-ca-cert-publisher": [
            rule(("list", "watch"), (CORE,), ("namespaces",)),
            rule(("create", "list", "watch"), (CORE,), ("configmaps",)),
            rule(("update",), (CORE,), ("configmaps",), ("kube-root-ca.crt",)),  # only the one it publishes
        ],
        "serviceaccount": [
            rule(("list", "watch"), (CORE,), ("namespaces",)),
            rule(("create", "list", "watch"), (CORE,), ("serviceaccounts",)),
        ],
        "statefulset": [
            rule(("list", "watch"), (APPS,), ("statefulsets",)),
            rule(("update",), (APPS,), ("statefulsets/status",)),
            rule(("create", "delete", "list", "patch", "watch"), (CORE,), ("pods",)),
            rule(("create", "delete", "get", "list", "patch", "watch"), (APPS,), ("controllerrevisions",)),
            rule(("create", "list", "patch", "watch"), (CORE,), ("persistentvolumeclaims",)),
        ],
        "volumebinding": [
            rule(("get", "list", "patch", "update", "watch"), (CORE,), ("persistentvolumeclaims",)),
            rule(("patch",), (CORE,), ("persistentvolumeclaims/status", "persistentvolumes/status")),
            rule(("create", "delete", "list", "update", "watch"), (CORE,), ("persistentvolumes",)),
            rule(("create", "list", "watch"), (STORAGE,), ("storageclasses",)),
            rule(("list", "watch"), (CORE,), ("nodes", "pods")),
        ],
    }


def _controller_manager_rules() -> list[Obj]:
    rules = [
        events_rule(),
        # leader election (controllers/main.py: kube-system/kube-controller-manager)
        rule(("create",), (COORDINATION,), ("leases",)),
        rule(("get", "update"), (COORDINATION,), ("leases",), names=("kube-controller-manager",)),
    ]
    for _, own in sorted(controller_rules().items()):
        rules.extend(r for r in own if r not in rules)
    return rules


def _scheduler_rules() -> list[Obj]:
    return [
        events_rule(),
        rule(("create",), (COORDINATION,), ("leases",)),
        rule(("get", "update"), (COORDINATION,), ("leases",), names=("kube-scheduler",)),
        rule(READ, (CORE,), ("nodes",)),
        rule(("get", "list", "watch", "delete"), (CORE,), ("pods",)),
        rule(("create",), (CORE,), ("pods/binding", "bindings")),
        rule(("patch", "update"), (CORE,), ("pods/status",)),
        rule(READ, (CORE,), ("services", "replicationcontrollers")),
        rule(READ, (APPS, EXTENSIONS), ("replicasets",)),
        rule(READ, (APPS,), ("statefulsets",)),
        rule(READ, (POLICY,), ("poddisruptionbudgets",)),
        rule(READ, (CORE,), ("persistentvolumeclaims", "persistentvolumes")),
        rule(("create",), (AUTHENTICATION,), ("tokenreviews",)),
        rule(("create",), (AUTHORIZATION,), ("subjectaccessreviews",)),
        rule(READ, (STORAGE,), ("csinodes",)),
        rule(READ, (CORE,), ("namespaces",)),
        rule(READ, (STORAGE,), ("csidrivers",)),
        rule(READ, (STORAGE,), ("csistoragecapacities",)),
        # kubelite's scheduler also watches these (scheduler/scheduler.py)
        rule(READ, (STORAGE,), ("storageclasses",)),
        rule(READ, (SCHEDULING,), ("priorityclasses",)),
    ]


def _node_rules() -> list[Obj]:
    """Kubernetes' NodeRules(): what a kubelet may do (the Node authorizer and NodeRestriction narrow it)."""
    return [
        rule(("create",), (AUTHENTICATION,), ("tokenreviews",)),
        rule(("create",), (AUTHORIZATION,), ("subjectaccessreviews", "localsubjectaccessreviews")),
        rule(READ, (CORE,), ("services",)),
        rule(("create", "get", "list", "watch"), (CORE,), ("nodes",)),
        rule(("update", "patch"), (CORE,), ("nodes/status",)),
        rule(("update", "patch"), (CORE,), ("nodes",)),
        rule(("create", "update", "patch"), (CORE,), ("events",)),
        rule(READ, (CORE,), ("pods",)),
        rule(("create", "delete"), (CORE,), ("pods",)),
        rule(("update", "patch"), (CORE,), ("pods/status",)),
        rule(("create",), (CORE,), ("pods/eviction",)),
        rule(READ, (CORE,), ("secrets", "configmaps")),
        rule(("get",), (CORE,), ("persistentvolumeclaims", "persistentvolumes")),
        rule(("get",), (CORE,), ("endpoints",)),
        rule(("create", "get", "list", "watch"), (CERTIFICATES,), ("certificatesigningrequests",)),
        rule(("get", "create", "update", "patch", "delete"), (COORDINATION,), ("leases",)),
        rule(("get",), (STORAGE,), ("volumeattachments",)),
        rule(("create",), (CORE,), ("serviceaccounts/token",)),
        rule(("get", "update", "patch"), (CORE,), ("persistentvolumeclaims/status",)),
        rule(READ, (STORAGE,), ("csidrivers",)),
        rule(("get", "create", "update", "patch", "delete"), (STORAGE,), ("csinodes",)),
        rule(READ, (NODE,), ("runtimeclasses",)),
    ]


# ---------------------------------------------------------------------------- the policy


def cluster_roles() -> list[Obj]:
    """The default ClusterRoles (fresh objects at each call)."""
    return [
        _cluster_role("cluster-admin", [rule(("*",), ("*",), ("*",)), url_rule(("*",), "*")]),
        _cluster_role("system:discovery", [url_rule(
            ("get",), "/livez", "/readyz", "/healthz", "/version", "/version/", "/openapi", "/openapi/*", "/api",
            "/api/*", "/apis", "/apis/*")]),
        _cluster_role("system:monitoring", [url_rule(
            ("get",), "/metrics", "/metrics/slis", "/livez", "/readyz", "/healthz", "/livez/*", "/readyz/*",
            "/healthz/*")]),
        _cluster_role("system:basic-user", [
            rule(("create",), (AUTHORIZATION,), ("selfsubjectaccessreviews", "selfsubjectrulesreviews")),
            rule(("create",), (AUTHENTICATION,), ("selfsubjectreviews",)),
        ]),
        _cluster_role("system:node-bootstrapper", [
            rule(("create", "get", "list", "watch"), (CERTIFICATES,), ("certificatesigningrequests",))]),
        *(_cluster_role(f"system:certificates.k8s.io:certificatesigningrequests:{sub}", [
            rule(("create",), (CERTIFICATES,), (f"certificatesigningrequests/{sub}",))])
          for sub in ("nodeclient", "selfnodeclient")),
        *(_cluster_role(f"system:certificates.k8s.io:{signer.partition('/')[2]}-approver", [
            rule(("approve",), (CERTIFICATES,), ("signers",), names=(signer,))])
          for signer in KUBERNETES_SIGNERS),
        _cluster_role("system:public-info-viewer", [url_rule(
            ("get",), "/livez", "/readyz", "/healthz", "/version", "/version/")]),
        _cluster_role("admin", [], aggregate=AGGREGATE_TO_ADMIN),
        _cluster_role("edit", [], labels={AGGREGATE_TO_ADMIN: "true"}, aggregate=AGGREGATE_TO_EDIT),
        _cluster_role("view", [], labels={AGGREGATE_TO_EDIT: "true"}, aggregate=AGGREGATE_TO_VIEW),
        _cluster_role("system:aggregate-to-admin", [
            rule(("create",), (AUTHORIZATION,), ("localsubjectaccessreviews",)),
            rule(READ_WRITE, (RBAC_GROUP,), ("roles", "rolebindings")),
        ], labels={AGGREGATE_TO_ADMIN: "true"}),
        _cluster_role("system:aggregate-to-edit", [
            # read on escalating resources
            rule(READ, (CORE,), ("pods/attach", "pods/proxy", "pods/exec", "pods/portforward", "secrets",
                                 "services/proxy")),
            rule(("impersonate",), (CORE,), ("serviceaccounts",)),
            rule(WRITE, (CORE,), ("pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward")),
            rule(("create",), (CORE,), ("pods/eviction",)),
            rule(WRITE, (CORE,), ("replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
                                  "services", "services/proxy", "persistentvolumeclaims", "configmaps", "secrets",
                                  "events")),
            rule(("create",), (CORE,), ("serviceaccounts/token",)),
            rule(WRITE, (APPS,), ("statefulsets", "statefulsets/scale", "daemonsets", "deployments",
                                  "deployments/scale", "deployments/rollback", "replicasets", "replicasets/scale")),
            rule(WRITE, (AUTOSCALING,), ("horizontalpodautoscalers",)),
            rule(WRITE, (BATCH,), ("jobs", "cronjobs")),
            rule(WRITE, (EXTENSIONS,), ("daemonsets", "deployments", "deployments/scale", "deployments/rollback",
                                        "ingresses", "replicasets", "replicasets/scale", "replicationcontrollers/scale",
                                        "networkpolicies")),
            rule(WRITE, (POLICY,), ("poddisruptionbudgets",)),
            rule(WRITE, (NETWORKING,), ("networkpolicies", "ingresses")),
            rule(READ_WRITE, (COORDINATION,), ("leases",)),
        ], labels={AGGREGATE_TO_EDIT: "true"}),
        _cluster_role("system:aggregate-to-view", [
            rule(READ, (CORE,), ("pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
                                 "services", "services/status", "endpoints", "persistentvolumeclaims",
                                 "persistentvolumeclaims/status", "configmaps")),
            rule(READ, (CORE,), ("limitranges", "resourcequotas", "bindings", "events", "pods/status",
                                 "resourcequotas/status", "namespaces/status", "replicationcontrollers/status",
                                 "pods/log")),
            # reading namespaces in a namespace's scope reads *this* namespace: which ones one may use
            rule(READ, (CORE,), ("namespaces",)),
            rule(READ, (DISCOVERY,), ("endpointslices",)),
            rule(READ, (APPS,), ("controllerrevisions", "statefulsets", "statefulsets/status", "statefulsets/scale",
                                 "daemonsets", "daemonsets/status", "deployments", "deployments/status",
                                 "deployments/scale", "replicasets", "replicasets/status", "replicasets/scale")),
            rule(READ, (AUTOSCALING,), ("horizontalpodautoscalers", "horizontalpodautoscalers/status")),
            rule(READ, (BATCH,), ("jobs", "cronjobs", "cronjobs/status", "jobs/status")),
            rule(READ, (EXTENSIONS,), ("daemonsets", "daemonsets/status", "deployments", "deployments/scale",
                                       "deployments/status", "ingresses", "ingresses/status", "replicasets",
                                       "replicasets/scale", "replicasets/status", "replicationcontrollers/scale",
                                       "networkpolicies")),
            rule(READ, (POLICY,), ("poddisruptionbudgets", "poddisruptionbudgets/status")),
            rule(READ, (NETWORKING,), ("networkpolicies", "ingresses", "ingresses/status")),
        ], labels={AGGREGATE_TO_VIEW: "true"}),
        _cluster_role("system:node", _node_rules()),
        _cluster_role("system:node-proxier", [
            rule(("list", "watch"), (CORE,), ("services", "endpoints")),
            rule(READ, (CORE,), ("nodes",)),
            events_rule(),
            rule(("list", "watch"), (DISCOVERY,), ("endpointslices",)),
        ]),
        _cluster_role("system:auth-delegator", [
            rule(("create",), (AUTHENTICATION,), ("tokenreviews",)),
            rule(("create",), (AUTHORIZATION,), ("subjectaccessreviews",)),
        ]),
        _cluster_role("system:kube-controller-manager", _controller_manager_rules()),
        _cluster_role("system:kube-dns", [rule(("list", "watch"), (CORE,), ("endpoints", "services"))]),
        _cluster_role("system:service-account-issuer-discovery", [url_rule(
            ("get",), "/.well-known/openid-configuration", "/openid/v1/jwks")]),
        _cluster_role("system:kube-scheduler", _scheduler_rules()),
        # kubelite's cluster DNS (proxy/dns.py): the zone is built from namespaces, services and endpoints
        _cluster_role("system:kubelite:cluster-dns", [
            rule(("list", "watch"), (CORE,), ("endpoints", "namespaces", "services")),
        ]),
    ]


def cluster_role_bindings() -> list[Obj]:
    """The default ClusterRoleBindings (system:node without subjects, as in Kubernetes)."""
    crb = "ClusterRoleBinding"
    return [
        _binding(crb, "cluster-admin", "ClusterRole", [_group(SYSTEM_MASTERS)]),
        _binding(crb, "system:discovery", "ClusterRole", [_group(ALL_AUTHENTICATED)]),
        _binding(crb, "system:monitoring", "ClusterRole", [_group(MONITORING_GROUP)]),
        _binding(crb, "system:basic-user", "ClusterRole", [_group(ALL_AUTHENTICATED)]),
        _binding(crb, "system:public-info-viewer", "ClusterRole",
                 [_group(ALL_AUTHENTICATED), _group(ALL_UNAUTHENTICATED)]),
        _binding(crb, "system:node-proxier", "ClusterRole", [_user(KUBE_PROXY)]),
        _binding(crb, "system:kube-controller-manager", "ClusterRole", [_user(KUBE_CONTROLLER_MANAGER)]),
        _binding(crb, "system:kube-dns", "ClusterRole", [_service_account(KUBE_SYSTEM, "kube-dns")]),
        _binding(crb, "system:kube-scheduler", "ClusterRole", [_user(KUBE_SCHEDULER)]),
        _binding(crb, "system:node", "ClusterRole", []),
        _binding(crb, "system:service-account-issuer-discovery", "ClusterRole", [_group(ALL_SERVICE_ACCOUNTS)]),
        _binding(crb, "system:kubelite:cluster-dns", "ClusterRole", [_user(KUBE_PROXY)]),
    ]


def _role(name: str, namespace: str, rules: list[Obj]) -> Obj:
    return {"apiVersion": RBAC_API_VERSION, "kind": "Role", "metadata": _meta(name, namespace), "rules": rules}


def _leader_locking() -> list[Obj]:
    verbs = ("watch", "get", "list", "create", "update")
    return [rule(verbs, (COORDINATION,), ("leases",)), rule(verbs, (COORDINATION,), ("leasecandidates",))]


def namespace_roles() -> dict[str, list[Obj]]:
    """The default Roles, by namespace."""
    return {KUBE_SYSTEM: [
        _role("system::leader-locking-kube-controller-manager", KUBE_SYSTEM, _leader_locking()),
        _role("system::leader-locking-kube-scheduler", KUBE_SYSTEM, _leader_locking()),
        # proxy/dns.py registers the kube-dns Service and its own address in the kube-dns Endpoints
        _role("system:kubelite:cluster-dns", KUBE_SYSTEM, [
            rule(("create",), (CORE,), ("endpoints", "services")),
            rule(("get",), (CORE,), ("services",), names=("kube-dns",)),
            rule(("get", "update"), (CORE,), ("endpoints",), names=("kube-dns",)),
        ]),
    ]}


def namespace_role_bindings() -> dict[str, list[Obj]]:
    """The default RoleBindings, by namespace."""
    rb = "RoleBinding"
    return {KUBE_SYSTEM: [
        _binding(rb, "system::leader-locking-kube-controller-manager", "Role", [
            _user(KUBE_CONTROLLER_MANAGER), _service_account(KUBE_SYSTEM, "kube-controller-manager"),
            _service_account(KUBE_SYSTEM, "leader-election-controller")], namespace=KUBE_SYSTEM),
        _binding(rb, "system::leader-locking-kube-scheduler", "Role", [
            _user(KUBE_SCHEDULER), _service_account(KUBE_SYSTEM, "kube-scheduler")], namespace=KUBE_SYSTEM),
        _binding(rb, "system:kubelite:cluster-dns", "Role", [_user(KUBE_PROXY)], namespace=KUBE_SYSTEM),
    ]}


def policy() -> list[Obj]:
    """Every default object, in the order the post-start hook writes them: ClusterRoles, ClusterRoleBindings,
    Roles, RoleBindings (each with apiVersion and kind)."""
    return [*cluster_roles(), *cluster_role_bindings(),
            *(r for roles in namespace_roles().values() for r in roles),
            *(b for bindings in namespace_role_bindings().values() for b in bindings)]


# ---------------------------------------------------------------------------- reconciliation


CREATE, UPDATE, RECREATE = "create", "update", "recreate"


@dataclass(frozen=True)
class ReconcileAction:
    """One write. create: POST `obj`. update: PUT `obj` (the stored object, its resourceVersion kept, with what it
    lacked added). recreate: DELETE `existing` (uid precondition), then POST `obj`. `missing`: the rules or
    subjects added, for the log."""

    operation: str
    obj: Obj
    existing: Obj | None = None
    missing: tuple[Obj, ...] = field(default=())

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind") or "")


def _object_key(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    return str(obj.get("kind") or ""), meta.get("namespace") or "", meta.get("name") or ""


def _merge(wanted: Mapping[str, str] | None, existing: Mapping[str, str] | None) -> dict[str, str]:
    """The later (existing) values win, as reconciliation's merge()."""
    return {**(wanted or {}), **(existing or {})}


def _merged_metadata(existing: Obj, wanted: Obj) -> tuple[Obj, bool]:
    obj = copy.deepcopy(existing)
    meta = obj.setdefault("metadata", {})
    changed = False
    for name in ("annotations", "labels"):
        merged = _merge((wanted.get("metadata") or {}).get(name), meta.get(name))
        if merged != (meta.get(name) or {}):
            meta[name] = merged
            changed = True
    return obj, changed


def _selectors(obj: Mapping[str, Any]) -> list[Obj]:
    return list(((obj.get("aggregationRule") or {}).get("clusterRoleSelectors")) or [])


def _same_selector(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    def norm(s: Mapping[str, Any]) -> tuple[Any, ...]:
        return dict(s.get("matchLabels") or {}), list(s.get("matchExpressions") or [])
    return norm(a) == norm(b)


def _reconcile_role(existing: Obj, wanted: Obj) -> ReconcileAction | None:
    obj, changed = _merged_metadata(existing, wanted)
    _, missing = covers(existing.get("rules") or [], wanted.get("rules") or [])
    if missing:
        obj["rules"] = [*(existing.get("rules") or []), *missing]
        changed = True
    if wanted.get("kind") == "ClusterRole":
        if wanted.get("aggregationRule") is None and existing.get("aggregationRule") is not None:
            obj.pop("aggregationRule", None)
            changed = True
        else:
            have = _selectors(existing)
            extra = [s for s in _selectors(wanted) if not any(_same_selector(s, h) for h in have)]
            if extra:
                obj["aggregationRule"] = {**(existing.get("aggregationRule") or {}),
                                          "clusterRoleSelectors": [*have, *copy.deepcopy(extra)]}
                changed = True
    return ReconcileAction(UPDATE, obj, existing, tuple(missing)) if changed else None


def _subject_key(subject: Mapping[str, Any]) -> tuple[str, str, str, str]:
    return (subject.get("kind") or "", subject.get("apiGroup") or "", subject.get("name") or "",
            subject.get("namespace") or "")


def _ref_key(ref: Mapping[str, Any] | None) -> tuple[str, str, str]:
    ref = ref or {}
    return ref.get("apiGroup") or "", ref.get("kind") or "", ref.get("name") or ""


def _reconcile_binding(existing: Obj, wanted: Obj) -> ReconcileAction | None:
    if _ref_key(existing.get("roleRef")) != _ref_key(wanted.get("roleRef")):
        return ReconcileAction(RECREATE, copy.deepcopy(wanted), existing, tuple(wanted.get("subjects") or ()))
    obj, changed = _merged_metadata(existing, wanted)
    have = {_subject_key(s) for s in existing.get("subjects") or []}
    missing: list[Obj] = []
    for subject in wanted.get("subjects") or []:
        if _subject_key(subject) not in have:
            have.add(_subject_key(subject))
            missing.append(copy.deepcopy(subject))
    if missing:
        obj["subjects"] = [*(existing.get("subjects") or []), *missing]
        changed = True
    return ReconcileAction(UPDATE, obj, existing, tuple(missing)) if changed else None


def reconcile_plan(existing: Iterable[Obj], wanted: Iterable[Obj] | None = None) -> list[ReconcileAction]:
    """The writes that bring the stored RBAC objects (`existing`, each with its `kind`) to the policy (`wanted`,
    default `policy()`), in `wanted`'s order. Pure: nothing is written, nothing given is changed."""
    stored = {_object_key(o): o for o in existing}
    actions: list[ReconcileAction] = []
    for want in policy() if wanted is None else wanted:
        have = stored.get(_object_key(want))
        if have is None:
            added = want.get("rules") if want.get("kind") in ("Role", "ClusterRole") else want.get("subjects")
            actions.append(ReconcileAction(CREATE, copy.deepcopy(want), None, tuple(added or ())))
            continue
        if ((have.get("metadata") or {}).get("annotations") or {}).get(AUTOUPDATE_ANNOTATION) == "false":
            continue  # the owner opted out of reconciliation
        kind = want.get("kind")
        action = _reconcile_role(have, want) if kind in ("Role", "ClusterRole") else _reconcile_binding(have, want)
        if action is not None:
            actions.append(action)
    return actions
