"""The RBAC authorizer, as Kubernetes decides: bindings in scope (ClusterRoleBindings everywhere, RoleBindings in
their namespace), subjects (User, Group, ServiceAccount with and without a namespace), the matchers (verbs, groups,
resources and subresources with their wildcards, resourceNames, nonResourceURLs), the reasons it gives, the rule
resolver of SelfSubjectRulesReview, the escalation check, and the in-memory objects fed by watch events."""

from __future__ import annotations

from typing import Any

import pytest

from apiserver.authn.user import ALL_AUTHENTICATED, UserInfo
from apiserver.authz import rbac
from apiserver.authz.attributes import Attributes, Decision
from apiserver.authz.rbac import RBACAuthorizer
from apiserver.authz.rbacstore import InMemoryRBACObjects

Obj = dict[str, Any]
RBAC = "rbac.authorization.k8s.io"


def rule(verbs: list[str], groups: list[str] | None = None, resources: list[str] | None = None,
         names: list[str] | None = None, urls: list[str] | None = None) -> Obj:
    out: Obj = {"verbs": verbs}
    if groups is not None:
        out["apiGroups"] = groups
    if resources is not None:
        out["resources"] = resources
    if names:
        out["resourceNames"] = names
    if urls:
        out["nonResourceURLs"] = urls
    return out


def cluster_role(name: str, *rules: Obj) -> Obj:
    return {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole", "metadata": {"name": name}, "rules": list(rules)}


def role(namespace: str, name: str, *rules: Obj) -> Obj:
    return {"apiVersion": f"{RBAC}/v1", "kind": "Role", "metadata": {"name": name, "namespace": namespace},
            "rules": list(rules)}


def user(name: str) -> Obj:
    return {"apiGroup": RBAC, "kind": "User", "name": name}


def group(name: str) -> Obj:
    return {"apiGroup": RBAC, "kind": "Group", "name": name}


def sa(name: str, namespace: str | None = None) -> Obj:
    out: Obj = {"kind": "ServiceAccount", "name": name}
    if namespace is not None:
        out["namespace"] = namespace
    return out


def crb(name: str, role_name: str, *subjects: Obj) -> Obj:
    return {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRoleBinding", "metadata": {"name": name},
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role_name}, "subjects": list(subjects)}


def rb(namespace: str, name: str, kind: str, role_name: str, *subjects: Obj) -> Obj:
    return {"apiVersion": f"{RBAC}/v1", "kind": "RoleBinding", "metadata": {"name": name, "namespace": namespace},
            "roleRef": {"apiGroup": RBAC, "kind": kind, "name": role_name}, "subjects": list(subjects)}


def who(name: str, *groups: str) -> UserInfo:
    return UserInfo(name, groups=(*groups, ALL_AUTHENTICATED))


def res(u: UserInfo, verb: str, resource: str, namespace: str = "", name: str = "", group: str = "",
        sub: str = "") -> Attributes:
    return Attributes(u, verb, True, namespace=namespace, api_group=group, api_version="v1", resource=resource,
                      subresource=sub, name=name)


def url(u: UserInfo, verb: str, path: str) -> Attributes:
    return Attributes(u, verb, False, path=path)


ALICE, BOB = who("alice"), who("bob", "devs")
CI_BUILDER = who("system:serviceaccount:ci:builder", "system:serviceaccounts", "system:serviceaccounts:ci")


def world() -> InMemoryRBACObjects:
    return InMemoryRBACObjects([
        cluster_role("pod-reader", rule(["get", "list", "watch"], [""], ["pods"])),
        cluster_role("deployer", rule(["*"], ["apps"], ["deployments"]), rule(["update"], ["apps"], ["*/scale"])),
        cluster_role("health", rule(["get"], urls=["/healthz", "/healthz/*", "/version"])),
        cluster_role("apis-reader", rule(["get"], urls=["/apis/*"])),
        cluster_role("logs", rule(["get"], [""], ["pods/log"])),
        cluster_role("pods-star", rule(["get"], [""], ["pods/*"])),
        cluster_role("everything", rule(["*"], ["*"], ["*"])),
        cluster_role("named", rule(["get", "update", "watch", "list", "create", "delete"], [""], ["configmaps"],
                                   names=["settings"])),
        role("a", "secret-reader", rule(["get"], [""], ["secrets"])),
        role("b", "secret-reader", rule(["get", "list"], [""], ["secrets"])),
        rb("a", "alice-view", "ClusterRole", "pod-reader", user("alice")),
        rb("a", "alice-secrets", "Role", "secret-reader", user("alice")),
        rb("a", "devs-deploy", "ClusterRole", "deployer", group("devs")),
        rb("a", "alice-health", "ClusterRole", "health", user("alice")),  # nonResourceURLs in a RoleBinding
        rb("a", "alice-named", "ClusterRole", "named", user("alice")),
        rb("ci", "builder-local", "ClusterRole", "logs", sa("builder")),  # the RoleBinding's namespace
        rb("a", "builder-in-a", "ClusterRole", "pod-reader", sa("builder", "ci")),
        rb("a", "builder-wrong-ns", "ClusterRole", "everything", sa("builder")),  # means a:builder, not ci:builder
        crb("bob-health", "health", user("bob")),
        crb("bob-apis", "apis-reader", group("devs")),
        crb("bob-pods-star", "pods-star", user("bob")),
        crb("sa-without-namespace", "everything", sa("builder")),  # a ClusterRoleBinding needs the namespace
    ])


def decide(attrs: Attributes, objects: InMemoryRBACObjects | None = None) -> Decision:
    return RBACAuthorizer(objects or world()).authorize(attrs).decision


ALLOW, NONE = Decision.ALLOW, Decision.NO_OPINION


@pytest.mark.parametrize(("attrs", "expected"), [
    # a RoleBinding grants in its namespace only
    (res(ALICE, "list", "pods", "a"), ALLOW),
    (res(ALICE, "get", "pods", "a", "web-1"), ALLOW),
    (res(ALICE, "watch", "pods", "a"), ALLOW),
    (res(ALICE, "list", "pods", "b"), NONE),
    (res(ALICE, "list", "pods"), NONE),  # cluster-wide: RoleBindings never apply
    (res(ALICE, "delete", "pods", "a", "web-1"), NONE),
    (res(ALICE, "create", "pods", "a"), NONE),
    (res(ALICE, "list", "pods", "a", group="apps"), NONE),  # the group is part of the match
    # a RoleBinding to a Role uses the Role of its own namespace
    (res(ALICE, "get", "secrets", "a", "tls"), ALLOW),
    (res(ALICE, "list", "secrets", "a"), NONE),  # a's Role has get only; b's list is not in a
    (res(ALICE, "list", "secrets", "b"), NONE),
    # Group subjects; `*` verbs; `*/scale`
    (res(BOB, "create", "deployments", "a", group="apps"), ALLOW),
    (res(BOB, "escalate", "deployments", "a", group="apps"), ALLOW),
    (res(BOB, "create", "deployments", "a", group="extensions"), NONE),
    (res(BOB, "update", "deployments", "a", "web", group="apps", sub="scale"), ALLOW),
    (res(BOB, "update", "statefulsets", "a", "db", group="apps", sub="scale"), ALLOW),
    (res(BOB, "update", "deployments", "a", "web", group="apps", sub="status"), NONE),
    (res(BOB, "get", "deployments", "a", "web", group="apps", sub="scale"), NONE),
    (res(BOB, "create", "deployments", "b", group="apps"), NONE),
    # `pods` does not cover pods/log, nor `pods/*` (taken literally by Kubernetes); `*` covers everything
    (res(ALICE, "get", "pods", "a", "web-1", sub="log"), NONE),
    (res(BOB, "get", "pods", "a", "web-1", sub="log"), NONE),
    (res(who("x"), "get", "pods", "a", "w", sub="log"), NONE),
    # ServiceAccount subjects: namespace from the subject, or from the RoleBinding; never without either
    (res(CI_BUILDER, "get", "pods", "ci", "job-1", sub="log"), ALLOW),
    (res(CI_BUILDER, "get", "pods", "ci", "job-1"), NONE),
    (res(CI_BUILDER, "list", "pods", "a"), ALLOW),
    (res(CI_BUILDER, "delete", "pods", "a", "x"), NONE),  # builder-wrong-ns names a:builder
    (res(who("system:serviceaccount:a:builder"), "delete", "pods", "a", "x"), ALLOW),
    (res(who("system:serviceaccount:a:builder"), "delete", "pods", "b", "x"), NONE),
    (res(who("builder"), "delete", "pods", "a", "x"), NONE),
    (res(who("system:serviceaccount::builder"), "delete", "pods", "a", "x"), NONE),
    (res(who("system:serviceaccount:ci:builder2"), "list", "pods", "a"), NONE),
    # resourceNames: only requests naming one of them
    (res(ALICE, "get", "configmaps", "a", "settings"), ALLOW),
    (res(ALICE, "update", "configmaps", "a", "settings"), ALLOW),
    (res(ALICE, "delete", "configmaps", "a", "settings"), ALLOW),
    (res(ALICE, "watch", "configmaps", "a", "settings"), ALLOW),  # a watch whose field selector names it
    (res(ALICE, "get", "configmaps", "a", "other"), NONE),
    (res(ALICE, "list", "configmaps", "a"), NONE),
    (res(ALICE, "watch", "configmaps", "a"), NONE),
    (res(ALICE, "create", "configmaps", "a"), NONE),  # a create has no name yet
    (res(ALICE, "deletecollection", "configmaps", "a"), NONE),
    # nonResourceURLs: exact, and prefixes ending in `*`; from ClusterRoleBindings only
    (url(BOB, "get", "/healthz"), ALLOW),
    (url(BOB, "get", "/healthz/etcd"), ALLOW),
    (url(BOB, "get", "/healthzz"), NONE),
    (url(BOB, "get", "/version"), ALLOW),
    (url(BOB, "get", "/version/"), NONE),
    (url(BOB, "post", "/healthz"), NONE),
    (url(BOB, "get", "/apis/apps/v1"), ALLOW),
    (url(BOB, "get", "/apis"), NONE),  # "/apis/*" needs the slash
    (url(BOB, "get", "/metrics"), NONE),
    (url(ALICE, "get", "/healthz"), NONE),  # alice has it through a RoleBinding only
    (res(BOB, "get", "healthz"), NONE),  # a URL rule never matches a resource request
])
def test_decisions(attrs: Attributes, expected: Decision) -> None:
    assert decide(attrs) is expected


def test_reasons_name_binding_role_and_subject_as_kubernetes_does() -> None:
    authorizer = RBACAuthorizer(world())
    cases = [
        (res(ALICE, "list", "pods", "a"), 'RBAC: allowed by RoleBinding "alice-view/a" of ClusterRole "pod-reader" '
                                          'to User "alice"'),
        (res(ALICE, "get", "secrets", "a", "x"), 'RBAC: allowed by RoleBinding "alice-secrets/a" of Role '
                                                 '"secret-reader" to User "alice"'),
        (res(BOB, "create", "deployments", "a", group="apps"), 'RBAC: allowed by RoleBinding "devs-deploy/a" of '
                                                               'ClusterRole "deployer" to Group "devs"'),
        (url(BOB, "get", "/healthz"), 'RBAC: allowed by ClusterRoleBinding "bob-health" of ClusterRole "health" to '
                                      'User "bob"'),
        (res(CI_BUILDER, "get", "pods", "ci", "j", sub="log"), 'RBAC: allowed by RoleBinding "builder-local/ci" of '
                                                              'ClusterRole "logs" to ServiceAccount "builder/ci"'),
        (res(CI_BUILDER, "get", "pods", "a", "j"), 'RBAC: allowed by RoleBinding "builder-in-a/a" of ClusterRole '
                                                   '"pod-reader" to ServiceAccount "builder/ci"'),
    ]
    for attrs, reason in cases:
        verdict = authorizer.authorize(attrs)
        assert verdict.allowed and verdict.reason == reason
    denied = authorizer.authorize(res(ALICE, "delete", "pods", "a", "x"))
    assert denied.decision is Decision.NO_OPINION and denied.reason == ""


def test_missing_roles_are_reported_and_never_block_other_bindings() -> None:
    objects = InMemoryRBACObjects([
        cluster_role("pod-reader", rule(["get"], [""], ["pods"])),
        crb("dangling", "gone", user("alice")),
        rb("a", "dangling-role", "Role", "gone-too", user("alice")),
        rb("a", "dangling-again", "ClusterRole", "gone", user("alice")),
        rb("a", "ok", "ClusterRole", "pod-reader", user("alice")),
    ])
    authorizer = RBACAuthorizer(objects)
    assert authorizer.authorize(res(ALICE, "get", "pods", "a", "x")).allowed
    cluster = authorizer.authorize(res(ALICE, "get", "nodes", name="n1"))
    assert cluster.decision is Decision.NO_OPINION
    assert cluster.reason == 'RBAC: clusterrole.rbac.authorization.k8s.io "gone" not found'
    local = authorizer.authorize(res(ALICE, "delete", "pods", "a", "x"))
    assert local.reason == ('RBAC: [clusterrole.rbac.authorization.k8s.io "gone" not found, '
                            'role.rbac.authorization.k8s.io "gone-too" not found]')  # duplicates dropped
    weird = RBACAuthorizer(InMemoryRBACObjects([{**crb("x", "y", user("alice")),
                                                 "roleRef": {"apiGroup": RBAC, "kind": "Thing", "name": "y"}}]))
    assert weird.authorize(res(ALICE, "get", "pods")).reason == 'RBAC: unsupported role reference kind: "Thing"'


def test_a_cluster_role_binding_to_a_role_finds_nothing() -> None:
    objects = InMemoryRBACObjects([role("a", "r", rule(["*"], ["*"], ["*"])),
                                   {**crb("x", "r", user("alice")),
                                    "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": "r"}}])
    verdict = RBACAuthorizer(objects).authorize(res(ALICE, "get", "pods", "a", "p"))
    assert verdict.decision is Decision.NO_OPINION
    assert verdict.reason == 'RBAC: role.rbac.authorization.k8s.io "r" not found'


def test_cluster_role_bindings_apply_in_every_namespace_and_cluster_wide() -> None:
    objects = InMemoryRBACObjects([cluster_role("pod-reader", rule(["list"], [""], ["pods"])),
                                   crb("readers", "pod-reader", group("readers"))])
    carol = who("carol", "readers")
    for namespace in ("", "a", "kube-system"):
        assert decide(res(carol, "list", "pods", namespace), objects) is ALLOW
    assert decide(res(who("dave"), "list", "pods", "a"), objects) is NONE


def test_rules_for_answers_a_self_subject_rules_review() -> None:
    authorizer = RBACAuthorizer(world())
    resource_rules, non_resource_rules, incomplete = authorizer.rules_for(ALICE, "a")
    assert {"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["pods"]} in resource_rules
    assert {"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"]} in resource_rules
    assert {"verbs": ["get", "update", "watch", "list", "create", "delete"], "apiGroups": [""],
            "resources": ["configmaps"], "resourceNames": ["settings"]} in resource_rules
    assert non_resource_rules == [{"verbs": ["get"], "nonResourceURLs": ["/healthz", "/healthz/*", "/version"]}]
    assert incomplete is False
    assert authorizer.rules_for(ALICE, "b") == ([], [], False)
    bob_rules, bob_urls, _ = authorizer.rules_for(BOB, "")
    assert bob_rules == [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods/*"]}]
    assert {"verbs": ["get"], "nonResourceURLs": ["/apis/*"]} in bob_urls
    broken = RBACAuthorizer(InMemoryRBACObjects([crb("dangling", "gone", user("alice"))]))
    assert broken.subject_rules_review_status(ALICE, "a") == {
        "resourceRules": [], "nonResourceRules": [], "incomplete": False,
        "evaluationError": 'clusterrole.rbac.authorization.k8s.io "gone" not found'}


@pytest.mark.parametrize(("owner", "servant", "ok"), [
    ([rule(["*"], ["*"], ["*"])], [rule(["get"], [""], ["pods"], names=["x"])], True),
    ([rule(["get", "list"], [""], ["pods"])], [rule(["get"], [""], ["pods"])], True),
    ([rule(["get"], [""], ["pods"])], [rule(["get", "delete"], [""], ["pods"])], False),
    ([rule(["get"], [""], ["pods"], names=["x"])], [rule(["get"], [""], ["pods"])], False),
    ([rule(["get"], [""], ["pods"])], [rule(["get"], [""], ["pods"], names=["x", "y"])], True),
    ([rule(["get"], [""], ["*/log"])], [rule(["get"], [""], ["pods/log"])], True),
    ([rule(["get"], [""], ["pods"])], [rule(["get"], [""], ["pods/log"])], False),
    ([rule(["get"], ["apps"], ["deployments"])], [rule(["get"], [""], ["deployments"])], False),
    ([rule(["get"], urls=["/healthz/*"])], [rule(["get"], urls=["/healthz/etcd"])], True),
    ([rule(["get"], urls=["/healthz"])], [rule(["get", "post"], urls=["/healthz"])], False),
], ids=["star", "verbs-subset", "verb-missing", "names-vs-all", "all-vs-names", "star-sub", "sub-not-covered",
        "group", "url-prefix", "url-verb"])
def test_covers(owner: list[Obj], servant: list[Obj], ok: bool) -> None:
    assert rbac.covers(owner, servant)[0] is ok


def test_escalation_check_lists_what_the_user_lacks() -> None:
    authorizer = RBACAuthorizer(world())
    assert authorizer.confirm_no_escalation(ALICE, "a", [rule(["get"], [""], ["pods"])]) is None
    message = authorizer.confirm_no_escalation(
        ALICE, "a", [rule(["get", "delete", "create"], [""], ["pods"]), rule(["get"], ["apps"], ["deployments"])])
    assert message == (
        'user "alice" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n'
        '{APIGroups:[""], Resources:["pods"], Verbs:["delete" "create"]}\n'
        '{APIGroups:["apps"], Resources:["deployments"], Verbs:["get"]}')
    assert authorizer.confirm_no_escalation(ALICE, "b", [rule(["get"], [""], ["pods"])]) is not None


def test_the_objects_follow_watch_events() -> None:
    objects = InMemoryRBACObjects()
    authorizer = RBACAuthorizer(objects)
    attrs = res(ALICE, "get", "pods", "a", "p")
    assert not authorizer.authorize(attrs).allowed
    objects.replace("ClusterRole", [cluster_role("r", rule(["get"], [""], ["pods"]))])
    objects.replace("rolebindings", [rb("a", "x", "ClusterRole", "r", user("alice"))])
    assert authorizer.authorize(attrs).allowed
    objects.apply("MODIFIED", cluster_role("r", rule(["list"], [""], ["pods"])))
    assert not authorizer.authorize(attrs).allowed
    objects.apply("MODIFIED", cluster_role("r", rule(["get"], [""], ["pods"])))
    objects.apply("BOOKMARK", {"kind": "ClusterRole", "metadata": {"resourceVersion": "9"}})
    assert authorizer.authorize(attrs).allowed
    objects.apply("DELETED", rb("a", "x", "ClusterRole", "r", user("alice")))
    assert not authorizer.authorize(attrs).allowed
    assert objects.role_bindings("a") == ()
    objects.apply("ADDED", {**rb("a", "y", "ClusterRole", "r", user("alice")), "kind": None}, kind="RoleBinding")
    assert authorizer.authorize(attrs).allowed
    objects.replace("RoleBinding", [])  # a re-list without it
    assert not authorizer.authorize(attrs).allowed
    objects.apply("ADDED", crb("c", "r", user("alice")))
    assert authorizer.authorize(attrs).allowed
    assert objects.counts() == {"Role": 0, "ClusterRole": 1, "RoleBinding": 0, "ClusterRoleBinding": 1}
    with pytest.raises(ValueError, match="not an RBAC kind"):
        objects.apply("ADDED", {"kind": "Pod", "metadata": {"name": "p"}})


def test_the_rule_cache_is_keyed_by_groups_and_namespace_too() -> None:
    objects = InMemoryRBACObjects([cluster_role("r", rule(["get"], [""], ["pods"])),
                                   crb("ops", "r", group("ops")), rb("a", "x", "ClusterRole", "r", user("bob"))])
    authorizer = RBACAuthorizer(objects)
    plain, in_ops = UserInfo("bob", groups=(ALL_AUTHENTICATED,)), UserInfo("bob", groups=("ops", ALL_AUTHENTICATED))
    assert not authorizer.authorize(res(plain, "get", "pods", "b", "p")).allowed
    assert authorizer.authorize(res(in_ops, "get", "pods", "b", "p")).allowed
    assert authorizer.authorize(res(plain, "get", "pods", "a", "p")).allowed
    assert not authorizer.authorize(res(plain, "get", "pods", "b", "p")).allowed  # a cached answer, still right
