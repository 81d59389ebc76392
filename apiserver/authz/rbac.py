"""The RBAC authorizer: may this user do this, by the Roles and ClusterRoles bound to it, decided from memory.

As Kubernetes decides it (plugin/pkg/auth/authorizer/rbac, its rule resolver pkg/registry/rbac/validation/rule.go
and the matchers of pkg/apis/rbac/v1/evaluation_helpers.go):

* the rules of every ClusterRoleBinding naming the user apply everywhere; then, for a request in a namespace, the
  rules of that namespace's RoleBindings naming the user (their roleRef is a Role of that namespace, or a
  ClusterRole whose rules then apply in that namespace only);
* a subject names the user as `User` (the name), `Group` (one of its groups) or `ServiceAccount` (the user
  `system:serviceaccount:NS:NAME`, NS being the subject's namespace, or the RoleBinding's when it has none);
* a rule matches a resource request when its verbs hold the verb or `*`, its apiGroups the group or `*`, its
  resources `*`, the resource (`pods`), the resource and subresource (`pods/log`), or `*/log`; `pods/*` is NOT a
  wildcard (Kubernetes matches it literally), and `pods` does not cover `pods/log`; when it has resourceNames, the
  request's name must be one of them, so a request without a name (create, list, watch, deletecollection, unless
  the request-info gave a list or watch the name of its `metadata.name=` field selector) never matches it;
* a non-resource request (`/healthz`, `/apis`) matches a rule whose nonResourceURLs hold `*`, the path, or a
  prefix of it ending in `*`;
* the first matching rule allows, with the reason Kubernetes gives ("RBAC: allowed by ClusterRoleBinding "x" of
  ClusterRole "y" to Group "z""). RBAC never denies: without a match it has no opinion (the chain refuses), and a
  binding to a missing role is reported in the reason ("RBAC: clusterrole.rbac.authorization.k8s.io "x" not found").

Also the rule resolver behind SelfSubjectRulesReview (`rules_for`), and the escalation check the RBAC registry runs
on writes of roles and bindings (`covers`, `confirm_no_escalation`).

Neighbours: attributes.py (the question), chain.py (the union of authorizers), rbacstore.py (the objects, fed from
the apiserver's watch caches), bootstrappolicy.py (the default roles).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from apiserver.authn.user import SERVICE_ACCOUNT_PREFIX, UserInfo
from apiserver.authz.attributes import Attributes, Decision, Verdict
from kube.labels import go_quote

__all__ = [
    "RBACAuthorizer", "RBACObjects", "aggregate_errors", "applies_to", "breakdown_rule", "compact_rules",
    "compact_string", "covers", "normalized_rule", "rule_allows", "rules_allow",
]

Obj = dict[str, Any]

ALL = "*"  # rbacv1.VerbAll, APIGroupAll, ResourceAll, NonResourceAll
RULE_FIELDS = ("verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs")


class RBACObjects(Protocol):
    """Where the authorizer finds roles and bindings (objects shaped as the API's JSON). None: not found."""

    def get_role(self, namespace: str, name: str) -> Obj | None: ...

    def get_cluster_role(self, name: str) -> Obj | None: ...

    def role_bindings(self, namespace: str) -> Iterable[Obj]: ...

    def cluster_role_bindings(self) -> Iterable[Obj]: ...


# ---------------------------------------------------------------------------- matching a rule


def _field(rule: Mapping[str, Any], name: str) -> Sequence[str]:
    return rule.get(name) or ()


def verb_matches(rule: Mapping[str, Any], verb: str) -> bool:
    return any(v in (ALL, verb) for v in _field(rule, "verbs"))


def api_group_matches(rule: Mapping[str, Any], group: str) -> bool:
    return any(g in (ALL, group) for g in _field(rule, "apiGroups"))


def resource_matches(rule: Mapping[str, Any], combined: str, subresource: str) -> bool:
    """`combined` is `resource` or `resource/subresource`."""
    for resource in _field(rule, "resources"):
        if resource in (ALL, combined):
            return True
        if subresource and len(resource) == len(subresource) + 2 and resource.startswith("*/") \
                and resource.endswith(subresource):
            return True
    return False


def resource_name_matches(rule: Mapping[str, Any], name: str) -> bool:
    names = _field(rule, "resourceNames")
    return not names or name in names


def non_resource_url_matches(rule: Mapping[str, Any], path: str) -> bool:
    for url in _field(rule, "nonResourceURLs"):
        if url in (ALL, path):
            return True
        if url.endswith("*") and path.startswith(url.rstrip("*")):
            return True
    return False


def rule_allows(attrs: Attributes, rule: Mapping[str, Any]) -> bool:
    """RuleAllows: does this one rule allow the request."""
    if attrs.resource_request:
        combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
        return (verb_matches(rule, attrs.verb) and api_group_matches(rule, attrs.api_group)
                and resource_matches(rule, combined, attrs.subresource) and resource_name_matches(rule, attrs.name))
    return verb_matches(rule, attrs.verb) and non_resource_url_matches(rule, attrs.path)


def rules_allow(attrs: Attributes, rules: Iterable[Mapping[str, Any]]) -> bool:
    return any(rule_allows(attrs, rule) for rule in rules)


# ---------------------------------------------------------------------------- subjects


def applies_to_user(user: UserInfo, subject: Mapping[str, Any], namespace: str) -> bool:
    """Does this binding subject name the user; `namespace` is the RoleBinding's ("" for a ClusterRoleBinding)."""
    kind = subject.get("kind")
    name = subject.get("name") or ""
    if kind == "User":
        return user.name == name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        sa_namespace = subject.get("namespace") or namespace
        return bool(sa_namespace) and user.name == f"{SERVICE_ACCOUNT_PREFIX}{sa_namespace}:{name}"
    return False


def applies_to(user: UserInfo, subjects: Iterable[Mapping[str, Any]] | None, namespace: str) -> int | None:
    """The index of the first subject naming the user, None when none does."""
    for i, subject in enumerate(subjects or ()):
        if applies_to_user(user, subject, namespace):
            return i
    return None


def _describe_subject(subject: Mapping[str, Any], binding_namespace: str) -> str:
    kind, name = subject.get("kind") or "", subject.get("name") or ""
    if kind == "ServiceAccount":  # Kubernetes writes NAME/NAMESPACE here
        return f"{kind} {go_quote(name + '/' + (subject.get('namespace') or binding_namespace))}"
    return f"{kind} {go_quote(name)}"


@dataclass(frozen=True)
class _Source:
    """Which binding (and which of its subjects) a rule came from; described only when it allowed something."""

    binding: Mapping[str, Any]
    subject: Mapping[str, Any]
    namespace: str  # the RoleBinding's; "" for a ClusterRoleBinding

    def describe(self) -> str:
        meta = self.binding.get("metadata") or {}
        ref = self.binding.get("roleRef") or {}
        role = f"{ref.get('kind') or ''} {go_quote(ref.get('name') or '')}"
        if self.namespace:
            what = f"RoleBinding {go_quote((meta.get('name') or '') + '/' + self.namespace)}"
        else:
            what = f"ClusterRoleBinding {go_quote(meta.get('name') or '')}"
        return f"{what} of {role} to {_describe_subject(self.subject, self.namespace)}"


def aggregate_errors(messages: Sequence[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): one message as is, several (duplicates dropped) as `[a, b]`."""
    if len(messages) == 1:
        return messages[0]
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


# ---------------------------------------------------------------------------- the authorizer


_Visited = tuple[tuple["_Source | None", "Obj | None", "str | None"], ...]

#: subjects whose rules are kept at once; beyond it the cache starts over (a bound, not an eviction policy)
RULE_CACHE_SIZE = 4096


class RBACAuthorizer:
    """An `Authorizer` (authorize) and the rule resolver of SelfSubjectRulesReview (rules_for).

    The rules that apply to a (user, groups, namespace) are gathered once per state of the objects and kept,
    so a request matches its own few rules instead of walking every binding: what a decision depends on is
    exactly what the cache key and the objects' generation hold, so answers are those of a fresh walk."""

    def __init__(self, objects: RBACObjects) -> None:
        self.objects = objects
        self._visited: dict[tuple[str, tuple[str, ...], str], _Visited] = {}
        self._generation: object = None

    def _applicable(self, user: UserInfo, namespace: str) -> _Visited:
        generation = getattr(self.objects, "generation", None)
        if generation is None:  # objects that do not say when they change: walk every time
            return tuple(self.visit(user, namespace))
        if generation != self._generation or len(self._visited) >= RULE_CACHE_SIZE:
            self._visited.clear()
            self._generation = generation
        key = (user.name, user.groups, namespace)
        found = self._visited.get(key)
        if found is None:
            found = self._visited[key] = tuple(self.visit(user, namespace))
        return found

    def _role_rules(self, ref: Mapping[str, Any], namespace: str) -> tuple[Sequence[Obj], str | None]:
        """GetRoleReferenceRules: the rules of a binding's roleRef (`namespace` is the binding's), or the error."""
        kind, name = ref.get("kind"), ref.get("name") or ""
        if kind == "Role":
            role = self.objects.get_role(namespace, name) if namespace else None
            if role is None:
                return (), f"role.rbac.authorization.k8s.io {go_quote(name)} not found"
            return role.get("rules") or (), None
        if kind == "ClusterRole":
            cluster_role = self.objects.get_cluster_role(name)
            if cluster_role is None:
                return (), f"clusterrole.rbac.authorization.k8s.io {go_quote(name)} not found"
            return cluster_role.get("rules") or (), None
        return (), f"unsupported role reference kind: {go_quote(str(kind or ''))}"

    def visit(self, user: UserInfo, namespace: str) -> Iterator[tuple[_Source | None, Obj | None, str | None]]:
        """VisitRulesFor: (source, rule, None) for each rule that applies to the user in `namespace`, and
        (None, None, error) for each binding whose role cannot be found; ClusterRoleBindings first."""
        for binding in self.objects.cluster_role_bindings():
            subjects = binding.get("subjects") or []
            index = applies_to(user, subjects, "")
            if index is None:
                continue
            rules, error = self._role_rules(binding.get("roleRef") or {}, "")
            if error is not None:
                yield None, None, error
                continue
            source = _Source(binding, subjects[index], "")
            for rule in rules:
                yield source, rule, None
        if not namespace:
            return
        for binding in self.objects.role_bindings(namespace):
            subjects = binding.get("subjects") or []
            index = applies_to(user, subjects, namespace)
            if index is None:
                continue
            rules, error = self._role_rules(binding.get("roleRef") or {}, namespace)
            if error is not None:
                yield None, None, error
                continue
            source = _Source(binding, subjects[index], namespace)
            for rule in rules:
                yield source, rule, None

    def authorize(self, attrs: Attributes) -> Verdict:
        errors: list[str] = []
        for source, rule, error in self._applicable(attrs.user, attrs.namespace):
            if rule is not None and source is not None and rule_allows(attrs, rule):
                return Verdict(Decision.ALLOW, f"RBAC: allowed by {source.describe()}")
            if error is not None:
                errors.append(error)
        return Verdict(Decision.NO_OPINION, f"RBAC: {aggregate_errors(errors)}" if errors else "")

    def policy_rules(self, user: UserInfo, namespace: str) -> tuple[list[Obj], list[str]]:
        """RulesFor: every PolicyRule that applies to the user in `namespace`, and the resolution errors (the rules
        found still hold: rules only ever add)."""
        rules: list[Obj] = []
        errors: list[str] = []
        for _, rule, error in self.visit(user, namespace):
            if rule is not None:
                rules.append(rule)
            if error is not None:
                errors.append(error)
        return rules, errors

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[Obj], list[Obj], bool]:
        """The resourceRules and nonResourceRules of a SelfSubjectRulesReview status, and `incomplete` (False, as
        Kubernetes' RBAC says it: a missing role is an evaluationError, see `subject_rules_review_status`)."""
        rules, _ = self.policy_rules(user, namespace)
        return _resource_rules(rules), _non_resource_rules(rules), False

    def subject_rules_review_status(self, user: UserInfo, namespace: str) -> Obj:
        """The whole `status` of a SelfSubjectRulesReview answered by RBAC alone."""
        rules, errors = self.policy_rules(user, namespace)
        status: Obj = {"resourceRules": _resource_rules(rules), "nonResourceRules": _non_resource_rules(rules),
                       "incomplete": False}
        if errors:
            status["evaluationError"] = aggregate_errors(errors)
        return status

    def confirm_no_escalation(self, user: UserInfo, namespace: str, rules: Iterable[Mapping[str, Any]]) -> str | None:
        """ConfirmNoEscalation: None when the user holds every permission in `rules` (in `namespace`), else
        the message of the Forbidden Kubernetes answers a write of a role or binding that would grant more."""
        owned, errors = self.policy_rules(user, namespace)
        ok, missing = covers(owned, rules)
        if ok:
            return None
        lines = sorted({compact_string(r) for r in compact_rules(missing)})
        groups = "[" + " ".join(go_quote(g) for g in user.groups) + "]"
        message = (f"user {go_quote(user.name)} (groups={groups}) is attempting to grant RBAC permissions not "
                   "currently held:\n" + "\n".join(lines))
        if errors:
            message += f"; resolution errors: [{' '.join(errors)}]"
        return message


def _resource_rules(rules: Iterable[Mapping[str, Any]]) -> list[Obj]:
    out: list[Obj] = []
    for rule in rules:
        if not rule.get("resources"):
            continue
        item: Obj = {"verbs": list(_field(rule, "verbs"))}
        for name in ("apiGroups", "resources", "resourceNames"):
            if rule.get(name):
                item[name] = list(rule[name])
        out.append(item)
    return out


def _non_resource_rules(rules: Iterable[Mapping[str, Any]]) -> list[Obj]:
    return [{"verbs": list(_field(r, "verbs")), "nonResourceURLs": list(r["nonResourceURLs"])}
            for r in rules if r.get("nonResourceURLs")]


# ---------------------------------------------------------------------------- comparing rules (policy_comparator.go)


def normalized_rule(rule: Mapping[str, Any]) -> Obj:
    """The five fields of a PolicyRule, empty ones left out: how the API prints it, and a value to compare."""
    return {name: list(rule[name]) for name in RULE_FIELDS if rule.get(name)}


def breakdown_rule(rule: Mapping[str, Any]) -> list[Obj]:
    """BreakdownRule: the equivalent rules of one verb, one group, one resource and at most one name each."""
    out: list[Obj] = []
    names = _field(rule, "resourceNames")
    for group in _field(rule, "apiGroups"):
        for resource in _field(rule, "resources"):
            for verb in _field(rule, "verbs"):
                base = {"apiGroups": [group], "resources": [resource], "verbs": [verb]}
                out.extend([{**base, "resourceNames": [n]} for n in names] if names else [base])
    for url in _field(rule, "nonResourceURLs"):
        for verb in _field(rule, "verbs"):
            out.append({"nonResourceURLs": [url], "verbs": [verb]})
    return out


def _resources_cover(owned: Sequence[str], wanted: Sequence[str]) -> bool:
    if ALL in owned or all(r in owned for r in wanted):
        return True
    for path in wanted:
        if path in owned:
            continue
        if "/" not in path or "*/" + path.split("/", 1)[1] not in owned:
            return False
    return True


def _urls_cover(owned: Sequence[str], wanted: Sequence[str]) -> bool:
    return all(any(o == path or (o.endswith("*") and path.startswith(o.rstrip("*"))) for o in owned)
               for path in wanted)


def _rule_covers(owner: Mapping[str, Any], sub: Mapping[str, Any]) -> bool:
    """ruleCovers: does `owner` cover `sub` (one verb, resource and name at most)."""
    owner_verbs, owner_groups = _field(owner, "verbs"), _field(owner, "apiGroups")
    owner_names, sub_names = _field(owner, "resourceNames"), _field(sub, "resourceNames")
    verbs = ALL in owner_verbs or all(v in owner_verbs for v in _field(sub, "verbs"))
    groups = ALL in owner_groups or all(g in owner_groups for g in _field(sub, "apiGroups"))
    resources = _resources_cover(_field(owner, "resources"), _field(sub, "resources"))
    urls = _urls_cover(_field(owner, "nonResourceURLs"), _field(sub, "nonResourceURLs"))
    names = not owner_names if not sub_names else (not owner_names or all(n in owner_names for n in sub_names))
    return verbs and groups and resources and names and urls


def covers(owner_rules: Iterable[Mapping[str, Any]], servant_rules: Iterable[Mapping[str, Any]]) \
        -> tuple[bool, list[Obj]]:
    """Covers: whether `owner_rules` allow everything `servant_rules` do, and the broken-down rules they do not."""
    owners = list(owner_rules)
    uncovered = [sub for rule in servant_rules for sub in breakdown_rule(rule)
                 if not any(_rule_covers(owner, sub) for owner in owners)]
    return not uncovered, uncovered


def compact_rules(rules: Iterable[Mapping[str, Any]]) -> list[Obj]:
    """CompactRules: rules of one group and one resource that differ only by verb, merged into one."""
    out: list[Obj] = []
    simple: dict[tuple[str, str], Obj] = {}
    for rule in rules:
        groups, resources = _field(rule, "apiGroups"), _field(rule, "resources")
        if (rule.get("resourceNames") or rule.get("nonResourceURLs") or len(groups) != 1 or len(resources) != 1
                or set(normalized_rule(rule)) - {"apiGroups", "resources", "verbs"}):
            out.append(dict(rule))
            continue
        key = (groups[0], resources[0])
        if key in simple:
            simple[key]["verbs"] = [*simple[key].get("verbs", []), *_field(rule, "verbs")]
        else:
            simple[key] = normalized_rule(rule)
    return out + list(simple.values())


def compact_string(rule: Mapping[str, Any]) -> str:
    """CompactString: `{APIGroups:["apps"], Resources:["deployments"], Verbs:["get"]}`, as escalation errors say."""
    parts = []
    for field, label in (("apiGroups", "APIGroups"), ("resources", "Resources"),
                         ("nonResourceURLs", "NonResourceURLs"), ("resourceNames", "ResourceNames"),
                         ("verbs", "Verbs")):
        if rule.get(field):
            parts.append(f"{label}:[{' '.join(go_quote(v) for v in rule[field])}]")
    return "{" + ", ".join(parts) + "}"
