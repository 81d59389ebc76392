"""The default RBAC policy: Kubernetes' names, labels and annotations; what the aggregated admin / edit / view allow
(pods, deployments, secrets, as Kubernetes'); the public and authenticated defaults; what each daemon identity may do
(every call kubelite's scheduler, controllers, kubelet, proxy and DNS make, and not more than asked); and the
post-start reconciliation plan (create what is missing, add what is missing, keep what users added)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from apiserver.authn.user import ALL_AUTHENTICATED, ALL_UNAUTHENTICATED, ANONYMOUS, NODES_GROUP, UserInfo
from apiserver.authz import bootstrappolicy as bp
from apiserver.authz.attributes import Attributes
from apiserver.authz.rbac import RBACAuthorizer
from apiserver.authz.rbacstore import InMemoryRBACObjects
from controllers.clusterroleaggregation import aggregated_rules
from controllers.context import ControllerContext, InformerFactory
from controllers.registry import available

Obj = dict[str, Any]
RBAC = "rbac.authorization.k8s.io"


def aggregate(objects: list[Obj]) -> list[Obj]:
    """What the clusterrole-aggregation controller makes of the policy: its syncs repeated until nothing changes."""
    objects = copy.deepcopy(objects)
    roles = [o for o in objects if o["kind"] == "ClusterRole"]
    for _ in range(10):
        changed = False
        for role in roles:
            if role.get("aggregationRule") is not None:
                rules = aggregated_rules(role, roles)
                if rules != role.get("rules"):
                    role["rules"], changed = rules, True
        if not changed:
            return objects
    raise AssertionError("aggregation does not converge")


def rb(namespace: str, name: str, role: str, user: str) -> Obj:
    return {"kind": "RoleBinding", "metadata": {"name": name, "namespace": namespace},
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role},
            "subjects": [{"apiGroup": RBAC, "kind": "User", "name": user}]}


def authorizer(*extra: Obj) -> RBACAuthorizer:
    return RBACAuthorizer(InMemoryRBACObjects([*aggregate(bp.policy()), *extra]))


#: what an RBAC-only cluster's administrator adds so kubelets work (the default policy never does)
NODES_BOUND = {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "nodes"},
               "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "system:node"},
               "subjects": [{"apiGroup": RBAC, "kind": "Group", "name": "system:nodes"}]}


def person(name: str, *groups: str) -> UserInfo:
    return UserInfo(name, groups=(*groups, ALL_AUTHENTICATED))


def can(a: RBACAuthorizer, u: UserInfo, verb: str, resource: str, namespace: str = "", name: str = "",
        group: str = "", sub: str = "") -> bool:
    return a.authorize(Attributes(u, verb, True, namespace=namespace, api_group=group, api_version="v1",
                                  resource=resource, subresource=sub, name=name)).allowed


def can_url(a: RBACAuthorizer, u: UserInfo, verb: str, path: str) -> bool:
    return a.authorize(Attributes(u, verb, False, path=path)).allowed


# ---------------------------------------------------------------------------- shapes


def test_every_object_carries_kubernetes_metadata() -> None:
    objects = bp.policy()
    assert len({(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in objects}) \
        == len(objects)
    for obj in objects:
        assert obj["apiVersion"] == "rbac.authorization.k8s.io/v1"
        assert obj["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults"
        assert obj["metadata"]["annotations"] == {"rbac.authorization.kubernetes.io/autoupdate": "true"}
    names = {o["metadata"]["name"] for o in bp.cluster_roles()}
    assert {"cluster-admin", "admin", "edit", "view", "system:aggregate-to-admin", "system:aggregate-to-edit",
            "system:aggregate-to-view", "system:discovery", "system:basic-user", "system:public-info-viewer",
            "system:monitoring", "system:node", "system:node-proxier", "system:kube-scheduler",
            "system:kube-controller-manager", "system:kube-dns", "system:auth-delegator"} <= names
    assert bp.policy() is not bp.policy() and bp.policy() == bp.policy()  # fresh copies, same content


def test_admin_edit_view_are_aggregated_as_in_kubernetes() -> None:
    roles = {r["metadata"]["name"]: r for r in bp.cluster_roles()}
    for name, label in (("admin", bp.AGGREGATE_TO_ADMIN), ("edit", bp.AGGREGATE_TO_EDIT),
                        ("view", bp.AGGREGATE_TO_VIEW)):
        assert roles[name]["aggregationRule"] == {"clusterRoleSelectors": [{"matchLabels": {label: "true"}}]}
        assert "rules" not in roles[name]
    assert roles["edit"]["metadata"]["labels"][bp.AGGREGATE_TO_ADMIN] == "true"  # edit feeds admin
    assert roles["view"]["metadata"]["labels"][bp.AGGREGATE_TO_EDIT] == "true"  # view feeds edit
    assert roles["system:aggregate-to-view"]["metadata"]["labels"][bp.AGGREGATE_TO_VIEW] == "true"


def test_aggregated_rules_are_those_of_the_aggregate_to_roles() -> None:
    roles = {r["metadata"]["name"]: r for r in aggregate(bp.cluster_roles())}
    view, edit, admin = (roles[n]["rules"] for n in ("view", "edit", "admin"))
    assert view == roles["system:aggregate-to-view"]["rules"]
    assert edit == roles["system:aggregate-to-edit"]["rules"] + view  # by name: system:aggregate-to-edit, view
    assert admin == edit + roles["system:aggregate-to-admin"]["rules"]  # edit, system:aggregate-to-admin


def test_rules_are_sorted_like_the_rule_builder_makes_them() -> None:
    for role in bp.cluster_roles():
        for rule in role.get("rules", []):
            for field in ("verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs"):
                if field in rule:
                    assert rule[field] == sorted(set(rule[field])), (role["metadata"]["name"], rule)


# ---------------------------------------------------------------------------- admin, edit, view


ALICE, BOB, CAROL = person("alice"), person("bob"), person("carol")
ROLES = authorizer(rb("a", "alice-view", "view", "alice"), rb("a", "bob-edit", "edit", "bob"),
                   rb("a", "carol-admin", "admin", "carol"))

# (verb, resource, subresource, group, name) -> allowed for (view, edit, admin)
USER_CASES = [
    ("get", "pods", "", "", "web", (True, True, True)),
    ("list", "pods", "", "", "", (True, True, True)),
    ("watch", "pods", "", "", "", (True, True, True)),
    ("create", "pods", "", "", "", (False, True, True)),
    ("delete", "pods", "", "", "web", (False, True, True)),
    ("deletecollection", "pods", "", "", "", (False, True, True)),
    ("get", "pods", "log", "", "web", (True, True, True)),
    ("get", "pods", "status", "", "web", (True, True, True)),
    ("update", "pods", "status", "", "web", (False, False, False)),
    ("create", "pods", "exec", "", "web", (False, True, True)),
    ("get", "pods", "exec", "", "web", (False, True, True)),
    ("create", "pods", "portforward", "", "web", (False, True, True)),
    ("create", "pods", "eviction", "", "web", (False, True, True)),
    ("get", "secrets", "", "", "tls", (False, True, True)),
    ("list", "secrets", "", "", "", (False, True, True)),
    ("create", "secrets", "", "", "", (False, True, True)),
    ("get", "configmaps", "", "", "c", (True, True, True)),
    ("update", "configmaps", "", "", "c", (False, True, True)),
    ("list", "deployments", "", "apps", "", (True, True, True)),
    ("create", "deployments", "", "apps", "", (False, True, True)),
    ("patch", "deployments", "", "apps", "web", (False, True, True)),
    ("update", "deployments", "scale", "apps", "web", (False, True, True)),
    ("get", "deployments", "scale", "apps", "web", (True, True, True)),
    ("get", "deployments", "status", "apps", "web", (True, True, True)),
    ("update", "deployments", "status", "apps", "web", (False, False, False)),
    ("create", "deployments", "", "", "", (False, False, False)),  # core group has no deployments
    ("list", "replicasets", "", "apps", "", (True, True, True)),
    ("list", "controllerrevisions", "", "apps", "", (True, True, True)),
    ("create", "jobs", "", "batch", "", (False, True, True)),
    ("get", "cronjobs", "status", "batch", "x", (True, True, True)),
    ("create", "services", "", "", "", (False, True, True)),
    ("create", "endpoints", "", "", "", (False, False, False)),  # taken from edit by CVE-2021-25740
    ("get", "endpoints", "", "", "x", (True, True, True)),
    ("create", "persistentvolumeclaims", "", "", "", (False, True, True)),
    ("create", "serviceaccounts", "", "", "token", (False, True, True)),
    ("impersonate", "serviceaccounts", "", "", "default", (False, True, True)),
    ("get", "resourcequotas", "", "", "q", (True, True, True)),
    ("create", "resourcequotas", "", "", "", (False, False, False)),
    ("create", "limitranges", "", "", "", (False, False, False)),
    ("get", "namespaces", "", "", "a", (True, True, True)),
    ("delete", "namespaces", "", "", "a", (False, False, False)),
    ("create", "leases", "", "coordination.k8s.io", "", (False, True, True)),
    ("create", "rolebindings", "", RBAC, "", (False, False, True)),
    ("create", "roles", "", RBAC, "", (False, False, True)),
    ("create", "localsubjectaccessreviews", "", "authorization.k8s.io", "", (False, False, True)),
    ("create", "clusterroles", "", RBAC, "", (False, False, False)),
    ("get", "nodes", "", "", "n1", (False, False, False)),
]


@pytest.mark.parametrize(("verb", "resource", "sub", "group", "name", "expected"), USER_CASES,
                         ids=[f"{c[0]}-{c[1]}{'/' + c[2] if c[2] else ''}-{c[3] or 'core'}" for c in USER_CASES])
def test_view_edit_admin_in_their_namespace(verb: str, resource: str, sub: str, group: str, name: str,
                                            expected: tuple[bool, bool, bool]) -> None:
    namespace = "a" if resource != "nodes" else ""
    got = tuple(can(ROLES, u, verb, resource, namespace, name, group, sub) for u in (ALICE, BOB, CAROL))
    assert got == expected
    # and nothing in another namespace
    assert not any(can(ROLES, u, verb, resource, "b", name, group, sub) for u in (ALICE, BOB, CAROL))


def test_view_in_a_lists_pods_in_a_only_and_never_deletes() -> None:
    assert can(ROLES, ALICE, "list", "pods", "a")
    assert not can(ROLES, ALICE, "list", "pods", "b")
    assert not can(ROLES, ALICE, "list", "pods")
    assert not can(ROLES, ALICE, "delete", "pods", "a", "web")
    reason = ROLES.authorize(Attributes(ALICE, "list", True, namespace="a", resource="pods")).reason
    assert reason == 'RBAC: allowed by RoleBinding "alice-view/a" of ClusterRole "view" to User "alice"'


# ---------------------------------------------------------------------------- everyone


def test_what_everyone_and_no_one_may_do() -> None:
    a = authorizer()
    anonymous = UserInfo(ANONYMOUS, groups=(ALL_UNAUTHENTICATED,))
    dave = person("dave")
    for path in ("/healthz", "/livez", "/readyz", "/version", "/version/"):
        assert can_url(a, anonymous, "get", path) and can_url(a, dave, "get", path)
    for path in ("/api", "/api/v1", "/apis", "/apis/apps/v1", "/openapi/v2"):
        assert not can_url(a, anonymous, "get", path)
        assert can_url(a, dave, "get", path)
    assert not can_url(a, dave, "get", "/metrics")
    assert can_url(a, person("prometheus", "system:monitoring"), "get", "/metrics")
    assert not can_url(a, dave, "post", "/apis")
    assert can(a, dave, "create", "selfsubjectaccessreviews", group="authorization.k8s.io")
    assert can(a, dave, "create", "selfsubjectrulesreviews", group="authorization.k8s.io")
    assert can(a, dave, "create", "selfsubjectreviews", group="authentication.k8s.io")
    assert not can(a, anonymous, "create", "selfsubjectaccessreviews", group="authorization.k8s.io")
    assert not can(a, dave, "create", "subjectaccessreviews", group="authorization.k8s.io")
    assert not can(a, dave, "list", "pods", "default")
    root = UserInfo("kubernetes-admin", groups=("system:masters", ALL_AUTHENTICATED))
    assert can(a, root, "delete", "nodes", name="n1") and can_url(a, root, "post", "/anything")
    assert a.authorize(Attributes(root, "get", True, resource="nodes")).reason == (
        'RBAC: allowed by ClusterRoleBinding "cluster-admin" of ClusterRole "cluster-admin" to Group "system:masters"')


def test_service_account_issuer_discovery_is_for_service_accounts() -> None:
    a = authorizer()
    pod = UserInfo("system:serviceaccount:a:default", groups=("system:serviceaccounts", "system:serviceaccounts:a",
                                                              ALL_AUTHENTICATED))
    assert can_url(a, pod, "get", "/openid/v1/jwks")
    assert not can_url(a, person("dave"), "get", "/openid/v1/jwks")
    assert not can(a, pod, "list", "pods", "a")


# ---------------------------------------------------------------------------- the daemons

CALL = tuple[str, str, str, str, str, str]  # verb, group, resource, subresource, namespace, name


def check_calls(u: UserInfo, calls: list[CALL], a: RBACAuthorizer | None = None) -> None:
    a = a or authorizer()
    refused = [c for c in calls if not can(a, u, c[0], c[2], c[4], c[5], c[1], c[3])]
    assert refused == []


SCHEDULER = UserInfo(bp.KUBE_SCHEDULER, groups=(ALL_AUTHENTICATED,))
CONTROLLER_MANAGER = UserInfo(bp.KUBE_CONTROLLER_MANAGER, groups=(ALL_AUTHENTICATED,))
KUBE_PROXY = UserInfo(bp.KUBE_PROXY, groups=(ALL_AUTHENTICATED,))
KUBELET = UserInfo("system:node:n1", groups=(NODES_GROUP, ALL_AUTHENTICATED))

SCHEDULER_CALLS: list[CALL] = [
    *[(v, g, r, "", "", "") for v in ("list", "watch") for g, r in (
        ("", "pods"), ("", "nodes"), ("", "namespaces"), ("", "services"), ("apps", "replicasets"),
        ("apps", "statefulsets"), ("scheduling.k8s.io", "priorityclasses"), ("", "persistentvolumeclaims"),
        ("", "persistentvolumes"), ("storage.k8s.io", "storageclasses"))],
    ("create", "", "pods", "binding", "a", "web-1"),  # scheduler.py: the Binding
    ("patch", "", "pods", "status", "a", "web-1"),  # PodScheduled=False, nominatedNodeName, DisruptionTarget
    ("delete", "", "pods", "", "a", "victim"),  # preemption
    ("create", "", "events", "", "a", ""),  # events.py
    ("patch", "", "events", "", "a", "web-1.17f"),
    ("get", "coordination.k8s.io", "leases", "", "kube-system", "kube-scheduler"),  # leader election
    ("create", "coordination.k8s.io", "leases", "", "kube-system", ""),
    ("update", "coordination.k8s.io", "leases", "", "kube-system", "kube-scheduler"),
]


def test_the_scheduler_may_make_each_of_its_calls() -> None:
    check_calls(SCHEDULER, SCHEDULER_CALLS)


def test_the_scheduler_informers_are_all_allowed() -> None:
    from scheduler.scheduler import Scheduler

    sched = Scheduler(_NoClient(), hot=object(), identity="test")  # type: ignore[arg-type]
    a = authorizer()
    for informer in sched.informers:
        r = informer.resource
        assert can(a, SCHEDULER, "list", r.plural, group=r.group) and can(a, SCHEDULER, "watch", r.plural,
                                                                          group=r.group), r.plural


def test_the_scheduler_may_not_do_more() -> None:
    a = authorizer()
    assert not can(a, SCHEDULER, "get", "secrets", "a", "tls")
    assert not can(a, SCHEDULER, "create", "pods", "a")
    assert not can(a, SCHEDULER, "update", "nodes", name="n1")
    assert not can(a, SCHEDULER, "delete", "leases", "kube-system", "kube-scheduler", "coordination.k8s.io")
    assert not can(a, SCHEDULER, "update", "leases", "kube-node-lease", "n1", "coordination.k8s.io")


ANY_NS = "x"


def cm_calls() -> list[CALL]:
    """What controllers/*.py call (cluster-wide informers apart), by controller."""
    return [
        # the controller-manager: events (kube/events.py: create), leader election (controllers/main.py)
        ("create", "", "events", "", ANY_NS, ""),
        ("create", "", "events", "", "default", ""),  # events about cluster-scoped objects (nodes)
        ("get", "coordination.k8s.io", "leases", "", "kube-system", "kube-controller-manager"),
        ("create", "coordination.k8s.io", "leases", "", "kube-system", ""),
        ("update", "coordination.k8s.io", "leases", "", "kube-system", "kube-controller-manager"),
        # clusterrole-aggregation: server-side apply of the rules
        ("patch", RBAC, "clusterroles", "", "", "admin"),
        ("escalate", RBAC, "clusterroles", "", "", "admin"),
        # cronjob
        ("update", "batch", "cronjobs", "status", ANY_NS, "cj"),
        ("create", "batch", "jobs", "", ANY_NS, ""),
        ("get", "batch", "jobs", "", ANY_NS, "cj-1"),
        ("delete", "batch", "jobs", "", ANY_NS, "cj-1"),
        # daemonset (+ claim.py, revisions.py, podowner.py)
        ("get", "", "nodes", "", "", "n1"),
        ("create", "", "pods", "", ANY_NS, ""),
        ("delete", "", "pods", "", ANY_NS, "ds-x"),
        ("patch", "", "pods", "", ANY_NS, "ds-x"),
        ("update", "apps", "daemonsets", "status", ANY_NS, "ds"),
        ("create", "apps", "controllerrevisions", "", ANY_NS, ""),
        ("get", "apps", "controllerrevisions", "", ANY_NS, "ds-1"),
        ("patch", "apps", "controllerrevisions", "", ANY_NS, "ds-1"),
        ("delete", "apps", "controllerrevisions", "", ANY_NS, "ds-1"),
        # deployment
        ("create", "apps", "replicasets", "", ANY_NS, ""),
        ("get", "apps", "replicasets", "", ANY_NS, "web-1"),
        ("update", "apps", "replicasets", "", ANY_NS, "web-1"),
        ("patch", "apps", "replicasets", "", ANY_NS, "web-1"),
        ("delete", "apps", "replicasets", "", ANY_NS, "web-1"),
        ("update", "apps", "deployments", "status", ANY_NS, "web"),
        ("patch", "apps", "deployments", "", ANY_NS, "web"),
        # endpoints
        ("create", "", "endpoints", "", ANY_NS, ""),
        ("update", "", "endpoints", "", ANY_NS, "web"),
        ("delete", "", "endpoints", "", ANY_NS, "web"),
        # garbagecollector: live reads, owner patches, deletes of any kind
        ("get", "apps", "replicasets", "", ANY_NS, "web-1"),
        ("get", "", "secrets", "", ANY_NS, "s"),
        ("patch", "", "configmaps", "", ANY_NS, "c"),
        ("delete", "batch", "jobs", "", ANY_NS, "j"),
        ("delete", RBAC, "rolebindings", "", ANY_NS, "rb"),
        ("patch", "", "persistentvolumes", "", "", "pv"),
        ("delete", "", "namespaces", "", "", "gone"),
        # job
        ("update", "batch", "jobs", "status", ANY_NS, "j"),
        ("create", "", "pods", "", ANY_NS, ""),
        ("patch", "", "pods", "", ANY_NS, "j-x"),
        ("delete", "", "pods", "", ANY_NS, "j-x"),
        # namespace: empty it through live lists, then finalize
        *[("list", g, r, "", ANY_NS, "") for g, r in (("", "pods"), ("", "secrets"), ("apps", "deployments"),
                                                      (RBAC, "roles"), ("coordination.k8s.io", "leases"),
                                                      ("", "events"))],
        *[("delete", g, r, "", ANY_NS, "x") for g, r in (("", "pods"), ("", "events"), ("batch", "cronjobs"))],
        ("update", "", "namespaces", "finalize", "", "gone"),
        ("update", "", "namespaces", "status", "", "gone"),
        # nodelifecycle
        ("patch", "", "nodes", "status", "", "n1"),
        ("patch", "", "nodes", "", "", "n1"),
        ("get", "", "nodes", "", "", "n1"),
        ("delete", "", "pods", "", ANY_NS, "evicted"),
        # replicaset
        ("update", "apps", "replicasets", "status", ANY_NS, "web-1"),
        # serviceaccount
        ("create", "", "serviceaccounts", "", ANY_NS, ""),
        # statefulset
        ("update", "apps", "statefulsets", "status", ANY_NS, "db"),
        ("create", "", "persistentvolumeclaims", "", ANY_NS, ""),
        ("patch", "", "persistentvolumeclaims", "", ANY_NS, "data-db-0"),
        # volumebinding
        ("create", "storage.k8s.io", "storageclasses", "", "", ""),
        ("patch", "", "persistentvolumeclaims", "", ANY_NS, "data"),
        ("update", "", "persistentvolumeclaims", "", ANY_NS, "data"),
        ("get", "", "persistentvolumeclaims", "", ANY_NS, "data"),
        ("patch", "", "persistentvolumeclaims", "status", ANY_NS, "data"),
        ("create", "", "persistentvolumes", "", "", ""),
        ("update", "", "persistentvolumes", "", "", "pvc-1"),
        ("delete", "", "persistentvolumes", "", "", "pvc-1"),
        ("patch", "", "persistentvolumes", "status", "", "pvc-1"),
    ]


def test_the_controller_manager_may_make_each_call_of_its_controllers() -> None:
    check_calls(CONTROLLER_MANAGER, cm_calls())


class _NoClient:
    server = "http://unused"


class _NoRecorder:
    async def record(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("not called")


def test_every_controller_has_rules_and_its_informers_are_allowed() -> None:
    assert set(bp.controller_rules()) == set(available())
    a = authorizer()
    for name, cls in available().items():
        client = _NoClient()
        ctx = ControllerContext(client, InformerFactory(client), _NoRecorder(), options={})  # type: ignore[arg-type]
        cls(ctx)
        watched = list(ctx.informers._informers)
        assert watched, name
        for r in watched:
            for verb in ("list", "watch"):
                assert can(a, CONTROLLER_MANAGER, verb, r.plural, group=r.group), (name, verb, r.plural)


def test_the_controller_manager_may_not_do_more() -> None:
    a = authorizer()
    for verb, group, resource, sub, namespace, name in [
        ("create", "", "secrets", "", ANY_NS, ""),
        ("update", "", "secrets", "", ANY_NS, "s"),
        ("create", RBAC, "clusterrolebindings", "", "", ""),
        ("create", RBAC, "clusterroles", "", "", ""),
        ("update", "", "pods", "status", ANY_NS, "p"),
        ("create", "", "pods", "binding", ANY_NS, "p"),
        ("get", "", "pods", "exec", ANY_NS, "p"),
        ("create", "", "pods", "exec", ANY_NS, "p"),
        ("update", "coordination.k8s.io", "leases", "", "kube-node-lease", "n1"),
        ("update", "", "configmaps", "", ANY_NS, "c"),  # the garbage collector patches, never updates
        ("deletecollection", "", "pods", "", ANY_NS, ""),
        ("create", "", "namespaces", "", "", ""),
        ("update", "", "nodes", "", "", "n1"),
        ("impersonate", "", "users", "", "", "admin"),
    ]:
        assert not can(a, CONTROLLER_MANAGER, verb, resource, namespace, name, group, sub), (verb, resource, sub)


KUBELET_CALLS: list[CALL] = [
    ("create", "", "nodes", "", "", ""),  # kubelet/node.py: register
    ("get", "", "nodes", "", "", "n1"),
    ("patch", "", "nodes", "", "", "n1"),  # labels
    ("patch", "", "nodes", "status", "", "n1"),
    ("get", "coordination.k8s.io", "leases", "", "kube-node-lease", "n1"),
    ("create", "coordination.k8s.io", "leases", "", "kube-node-lease", ""),
    ("update", "coordination.k8s.io", "leases", "", "kube-node-lease", "n1"),
    ("list", "", "pods", "", "", ""),  # kubelet/pods.py: its pods (spec.nodeName field selector)
    ("watch", "", "pods", "", "", ""),
    ("list", "", "services", "", "", ""),  # service environment variables
    ("watch", "", "services", "", "", ""),
    ("delete", "", "pods", "", "a", "web-1"),
    ("patch", "", "pods", "status", "a", "web-1"),
    ("get", "", "secrets", "", "a", "tls"),  # volumes and env
    ("get", "", "configmaps", "", "a", "settings"),
    ("get", "", "persistentvolumeclaims", "", "a", "data"),
    ("get", "", "persistentvolumes", "", "", "pv-1"),
    ("create", "", "events", "", "a", ""),
    ("create", "", "serviceaccounts", "token", "a", "default"),  # projected tokens (issue 18)
]


def test_kubelets_may_make_each_of_their_calls() -> None:
    """The system:node role holds every call a kubelet makes (bound, in an RBAC-only cluster; the Node
    authorizer grants the same rules from them)."""
    check_calls(KUBELET, KUBELET_CALLS, authorizer(NODES_BOUND))


def test_rbac_alone_grants_kubelets_nothing() -> None:
    a = authorizer()
    assert not can(a, KUBELET, "get", "nodes", name="n1")
    crb = {o["metadata"]["name"]: o for o in bp.cluster_role_bindings()}
    assert "subjects" not in crb["system:node"]
    assert crb["system:node"]["roleRef"] == {"apiGroup": RBAC, "kind": "ClusterRole", "name": "system:node"}


PROXY_CALLS: list[CALL] = [
    ("list", "", "services", "", "", ""),  # proxy/proxier.py
    ("watch", "", "services", "", "", ""),
    ("list", "", "endpoints", "", "", ""),
    ("watch", "", "endpoints", "", "", ""),
    ("create", "", "events", "", "default", ""),
    ("list", "", "namespaces", "", "", ""),  # proxy/dns.py: the zone
    ("watch", "", "namespaces", "", "", ""),
    ("create", "", "services", "", "kube-system", ""),  # register(): the kube-dns Service
    ("get", "", "services", "", "kube-system", "kube-dns"),
    ("get", "", "endpoints", "", "kube-system", "kube-dns"),  # _update_endpoints()
    ("create", "", "endpoints", "", "kube-system", ""),
    ("update", "", "endpoints", "", "kube-system", "kube-dns"),
]


def test_the_proxy_and_the_dns_may_make_each_of_their_calls() -> None:
    check_calls(KUBE_PROXY, PROXY_CALLS)


def test_the_proxy_may_not_do_more() -> None:
    a = authorizer()
    assert not can(a, KUBE_PROXY, "get", "secrets", "kube-system", "x")
    assert not can(a, KUBE_PROXY, "create", "services", "default")
    assert not can(a, KUBE_PROXY, "update", "endpoints", "kube-system", "other")
    assert not can(a, KUBE_PROXY, "update", "services", "kube-system", "kube-dns")
    assert not can(a, KUBE_PROXY, "delete", "endpoints", "kube-system", "kube-dns")
    assert not can(a, KUBE_PROXY, "list", "pods")


# ---------------------------------------------------------------------------- reconciliation


def stored(objects: list[Obj]) -> list[Obj]:
    """As the apiserver would hold them: with uid and resourceVersion."""
    out = copy.deepcopy(objects)
    for i, obj in enumerate(out):
        obj["metadata"]["uid"], obj["metadata"]["resourceVersion"] = f"uid-{i}", str(100 + i)
    return out


def test_nothing_stored_means_create_everything_in_order() -> None:
    plan = bp.reconcile_plan([])
    assert [(a.operation, a.kind, a.obj["metadata"]["name"]) for a in plan] == [
        ("create", o["kind"], o["metadata"]["name"]) for o in bp.policy()]
    kinds = [a.kind for a in plan]
    assert kinds.index("ClusterRoleBinding") > max(i for i, k in enumerate(kinds) if k == "ClusterRole")
    assert kinds.index("RoleBinding") > max(i for i, k in enumerate(kinds) if k == "Role")


def test_the_policy_in_place_needs_nothing_even_once_aggregated() -> None:
    assert bp.reconcile_plan(stored(bp.policy())) == []
    assert bp.reconcile_plan(stored(aggregate(bp.policy()))) == []


def find(objects: list[Obj], kind: str, name: str) -> Obj:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def test_missing_rules_are_added_and_user_additions_kept() -> None:
    objects = stored(bp.policy())
    scheduler = find(objects, "ClusterRole", "system:kube-scheduler")
    before = copy.deepcopy(scheduler)
    mine = {"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get"]}
    scheduler["rules"] = [r for r in scheduler["rules"] if "priorityclasses" not in r["resources"]] + [mine]
    scheduler["metadata"]["labels"] = {"team": "infra"}
    (action,) = bp.reconcile_plan(objects)
    assert action.operation == "update" and action.existing is scheduler
    assert action.obj["metadata"]["resourceVersion"] == scheduler["metadata"]["resourceVersion"]
    assert mine in action.obj["rules"]
    assert action.missing == tuple({"apiGroups": ["scheduling.k8s.io"], "resources": ["priorityclasses"],
                                    "verbs": [v]} for v in ("get", "list", "watch"))  # broken down, as Kubernetes
    assert action.obj["metadata"]["labels"] == {"team": "infra", "kubernetes.io/bootstrapping": "rbac-defaults"}
    assert scheduler != before and scheduler["rules"][-1] == mine  # the given object is not changed


def test_autoupdate_false_protects_an_object() -> None:
    objects = stored(bp.policy())
    view = find(objects, "ClusterRole", "system:aggregate-to-view")
    view["rules"] = []
    view["metadata"]["annotations"][bp.AUTOUPDATE_ANNOTATION] = "false"
    binding = find(objects, "ClusterRoleBinding", "system:discovery")
    binding["subjects"] = []
    binding["metadata"]["annotations"] = {bp.AUTOUPDATE_ANNOTATION: "false"}
    assert bp.reconcile_plan(objects) == []


def test_bindings_gain_missing_subjects_keep_others_and_are_recreated_for_another_role() -> None:
    objects = stored(bp.policy())
    public = find(objects, "ClusterRoleBinding", "system:public-info-viewer")
    extra = {"apiGroup": RBAC, "kind": "User", "name": "someone"}
    public["subjects"] = [extra, {"apiGroup": RBAC, "kind": "Group", "name": ALL_AUTHENTICATED}]
    moved = find(objects, "ClusterRoleBinding", "system:kube-scheduler")
    moved["roleRef"] = {"apiGroup": RBAC, "kind": "ClusterRole", "name": "view"}
    actions = {a.obj["metadata"]["name"]: a for a in bp.reconcile_plan(objects)}
    assert set(actions) == {"system:public-info-viewer", "system:kube-scheduler"}
    update = actions["system:public-info-viewer"]
    assert update.operation == "update"
    assert update.obj["subjects"] == [*public["subjects"], {"apiGroup": RBAC, "kind": "Group",
                                                            "name": ALL_UNAUTHENTICATED}]
    recreate = actions["system:kube-scheduler"]
    assert recreate.operation == "recreate" and recreate.existing is moved
    assert recreate.obj == find(bp.policy(), "ClusterRoleBinding", "system:kube-scheduler")


def test_aggregation_selectors_are_added_and_a_missing_one_removed() -> None:
    objects = stored(bp.policy())
    admin = find(objects, "ClusterRole", "admin")
    custom = {"matchLabels": {"example.com/aggregate-to-admin": "true"}}
    admin["aggregationRule"] = {"clusterRoleSelectors": [custom]}
    admin["rules"] = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]  # the controller's
    scheduler = find(objects, "ClusterRole", "system:kube-scheduler")
    scheduler["aggregationRule"] = {"clusterRoleSelectors": [custom]}
    actions = {a.obj["metadata"]["name"]: a for a in bp.reconcile_plan(objects)}
    assert actions["admin"].obj["aggregationRule"]["clusterRoleSelectors"] == [
        custom, {"matchLabels": {bp.AGGREGATE_TO_ADMIN: "true"}}]
    assert actions["admin"].obj["rules"] == admin["rules"]
    assert "aggregationRule" not in actions["system:kube-scheduler"].obj


def test_missing_objects_among_existing_ones_are_created() -> None:
    objects = [o for o in stored(bp.policy()) if o["metadata"]["name"] != "system:kubelite:cluster-dns"]
    plan = bp.reconcile_plan(objects)
    assert [(a.operation, a.kind) for a in plan] == [("create", "ClusterRole"), ("create", "ClusterRoleBinding"),
                                                     ("create", "Role"), ("create", "RoleBinding")]
    assert plan[2].obj["metadata"]["namespace"] == "kube-system"
