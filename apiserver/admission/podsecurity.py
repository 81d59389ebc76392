"""PodSecurity: the Pod Security Standards (privileged, baseline, restricted) a namespace's labels ask for, as
Kubernetes' pod-security-admission with its checks for the latest policy version.

A namespace says `pod-security.kubernetes.io/<mode>: <level>` and optionally `<mode>-version: v1.X | latest` for
each mode: `enforce` refuses a pod that violates the level (403, `pods "x" is forbidden: violates PodSecurity
"restricted:latest": privileged (container "app" must not set securityContext.privileged=true), ...`), `warn`
returns a Warning header (`would violate PodSecurity ...`, which kubectl prints), `audit` is parsed but not
evaluated (kubelite has no audit annotations to record it in). Unlabelled modes are privileged:latest; an
unlabelled `warn` follows a stricter `enforce`. Workloads (Deployments, ReplicaSets, StatefulSets, DaemonSets,
Jobs, CronJobs) are never refused: their pod templates get the warn level's warnings, as Kubernetes does. A
namespace's labels must parse (422 otherwise); tightening `enforce` warns about its existing pods that would now
be refused.

The checks are podsecuritypolicy.py's. Exemptions (users, namespaces, runtime classes) are not implemented.

Neighbours: podsecuritypolicy.py (levels, labels, checks), apiserver/localinformer.py (namespace labels),
chain.py (`Attributes.warnings`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from apiserver.admission.chain import Attributes, Plugin
from apiserver.admission.podsecuritypolicy import (
    PRIVILEGED,
    LevelVersion,
    Policy,
    check_pod,
    forbidden_detail,
    forbidden_reason,
    policy_from_labels,
    strictness,
)
from apiserver.localinformer import LocalInformer
from kube import errors
from kube.labels import go_quote
from kube.resources import NAMESPACES, PODS, ResourceType

if TYPE_CHECKING:
    from apiserver.rest import Registry

__all__ = ["POD_CONTROLLERS", "PodSecurity"]

Obj = dict[str, Any]

#: kinds whose pod template is checked (pod-security-admission's podcontrollers), and where the template is
POD_CONTROLLERS: dict[tuple[str, str], tuple[str, ...]] = {
    ("apps", "deployments"): ("spec", "template"), ("apps", "replicasets"): ("spec", "template"),
    ("apps", "statefulsets"): ("spec", "template"), ("apps", "daemonsets"): ("spec", "template"),
    ("batch", "jobs"): ("spec", "template"), ("batch", "cronjobs"): ("spec", "jobTemplate", "spec", "template"),
    ("", "replicationcontrollers"): ("spec", "template"), ("", "podtemplates"): ("template",),
}
#: pod subresources that cannot change what the checks look at
_IGNORED_POD_SUBRESOURCES = {"exec", "attach", "binding", "eviction", "log", "portforward", "proxy", "status"}
#: namespaceMaxPodsToCheck: how many existing pods a tightened enforce level is tried on
MAX_PODS_TO_CHECK = 3000


# ---------------------------------------------------------------------- the plugin


def _significant_pod_update(new: Obj, old: Obj) -> bool:
    """isSignificantPodUpdate: only images, seccomp annotations and added ephemeral containers can change what
    the checks see in a pod update."""
    new_ann = (new.get("metadata") or {}).get("annotations") or {}
    old_ann = (old.get("metadata") or {}).get("annotations") or {}
    pod_key = "seccomp.security.alpha.kubernetes.io/pod"
    if new_ann.get(pod_key) != old_ann.get(pod_key):
        return True
    new_spec, old_spec = new.get("spec") or {}, old.get("spec") or {}

    def changed(c: Obj, o: Obj) -> bool:
        key = f"container.seccomp.security.alpha.kubernetes.io/{c.get('name', '')}"
        return c.get("image") != o.get("image") or new_ann.get(key) != old_ann.get(key)

    for field in ("containers", "initContainers"):
        mine, theirs = new_spec.get(field) or [], old_spec.get(field) or []
        if len(mine) != len(theirs) or any(changed(c, o) for c, o in zip(mine, theirs, strict=True)):
            return True
    before = {c.get("name"): c for c in old_spec.get("ephemeralContainers") or []}
    for c in new_spec.get("ephemeralContainers") or []:
        if c.get("name") not in before or changed(c, before[c.get("name")]):
            return True
    return False


def _template(obj: Obj, path: tuple[str, ...]) -> Obj | None:
    node: Any = obj
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None


class PodSecurity(Plugin):
    name = "PodSecurity"

    def __init__(self) -> None:
        self.namespaces: dict[str, Obj] = {}
        self._registry: Registry | None = None
        self._informer: LocalInformer | None = None

    async def start(self, registry: Registry) -> None:
        self._registry = registry
        self._informer = LocalInformer(registry, [NAMESPACES], self)
        self._informer.start()

    async def stop(self) -> None:
        if self._informer is not None:
            await self._informer.stop()

    # the namespace index (a LocalInformer Handler)
    def replace(self, rt: ResourceType, objs: list[Obj]) -> None:
        self.namespaces = {obj["metadata"]["name"]: obj for obj in objs}

    def apply(self, rt: ResourceType, event_type: str, obj: Obj) -> None:
        if event_type == "DELETED":
            self.namespaces.pop(obj["metadata"]["name"], None)
        else:
            self.observe(NAMESPACES, obj)

    def observe(self, resource: ResourceType, stored: Obj) -> None:
        if resource is not NAMESPACES:
            return
        name = stored["metadata"]["name"]
        held = self.namespaces.get(name)
        if held is None or int(held["metadata"]["resourceVersion"]) <= int(stored["metadata"]["resourceVersion"]):
            self.namespaces[name] = stored

    async def _namespace(self, name: str) -> Obj | None:
        found = self.namespaces.get(name)
        if found is None and self._registry is not None:
            storage = self._registry.storage
            found = await storage.get(storage.key(NAMESPACES.plural, None, name))
        return found

    async def validate(self, attrs: Attributes) -> None:
        if attrs.operation not in ("CREATE", "UPDATE") or attrs.obj is None:
            return
        rt = attrs.resource
        if rt is NAMESPACES:
            await self._validate_namespace(attrs)
            return
        if not attrs.namespace:
            return
        if rt is PODS:
            if attrs.subresource in _IGNORED_POD_SUBRESOURCES:
                return
            if attrs.operation == "UPDATE" and attrs.old is not None and not _significant_pod_update(attrs.obj,
                                                                                                  attrs.old):
                return
            template: Obj | None = attrs.obj
            enforce = True
        elif (path := POD_CONTROLLERS.get((rt.group, rt.plural))) is not None and not attrs.subresource:
            template = _template(attrs.obj, path)
            enforce = False
        else:
            return
        if template is None:
            return
        namespace = await self._namespace(attrs.namespace)
        if namespace is None:
            return  # NamespaceLifecycle refuses the request
        policy, _ = policy_from_labels(namespace["metadata"].get("labels"))
        if (policy.enforce.level == PRIVILEGED or not enforce) and policy.warn.level == PRIVILEGED:
            return
        self._evaluate(attrs, policy, template.get("metadata") or {}, template.get("spec") or {}, enforce)

    @staticmethod
    def _evaluate(attrs: Attributes, policy: Policy, meta: Obj, spec: Obj, enforce: bool) -> None:
        """EvaluatePod: a pod violating the enforce level is refused; otherwise the warn level warns (for
        workloads only the warn level applies, which follows a stricter enforce level when unlabelled)."""
        if enforce and (failed := check_pod(policy.enforce, meta, spec)):
            raise errors.Forbidden.for_resource(attrs.resource.plural, attrs.name, attrs.resource.group,
                                                f"violates PodSecurity {go_quote(str(policy.enforce))}: "
                                                f"{forbidden_detail(failed)}")
        if failed := check_pod(policy.warn, meta, spec):
            attrs.warnings.append(f"would violate PodSecurity {go_quote(str(policy.warn))}: "
                                  f"{forbidden_detail(failed)}")

    async def _validate_namespace(self, attrs: Attributes) -> None:
        """ValidateNamespace: labels must parse (on creation, and on an update that changes their errors); a
        tightened enforce level warns about the namespace's pods that would now be refused."""
        if attrs.subresource:
            return
        assert attrs.obj is not None
        new_policy, new_causes = policy_from_labels(attrs.obj["metadata"].get("labels"))
        old_policy, old_causes = policy_from_labels(((attrs.old or {}).get("metadata") or {}).get("labels"))
        if new_causes and (attrs.operation == "CREATE" or new_causes != old_causes):
            raise errors.Invalid.for_object("Namespace", attrs.name, new_causes)
        if attrs.operation != "UPDATE" or new_policy.enforce == old_policy.enforce:
            return
        if new_policy.enforce.level == PRIVILEGED or (
                new_policy.enforce.minor == old_policy.enforce.minor
                and strictness(new_policy.enforce.level) <= strictness(old_policy.enforce.level)):
            return
        attrs.warnings.extend(await self._pods_in_namespace(attrs.name, new_policy.enforce))

    async def _pods_in_namespace(self, namespace: str, enforce: LevelVersion) -> list[str]:
        """EvaluatePodsInNamespace: one warning per distinct violation, naming the first pod and how many more."""
        if self._registry is None:
            return []
        storage = self._registry.storage
        pods = (await storage.list(storage.prefix(PODS.plural, namespace))).items
        total = len(pods)
        pods = pods[:MAX_PODS_TO_CHECK]
        seen: dict[str, tuple[str, int]] = {}
        for pod in pods:
            failed = check_pod(enforce, pod.get("metadata") or {}, pod.get("spec") or {})
            if failed:
                reason, name = forbidden_reason(failed), pod["metadata"]["name"]
                first, count = seen.get(reason, (name, 0))
                seen[reason] = (min(first, name), count + 1)
        warnings = []
        if len(pods) < total:
            warnings.append(f"new PodSecurity enforce level only checked against the first {len(pods)} of {total} "
                            "existing pods")
        if seen:
            warnings.append(f"existing pods in namespace {go_quote(namespace)} violate the new PodSecurity enforce "
                            f"level {go_quote(str(enforce))}")
        decorated = []
        for reason, (first, count) in seen.items():
            others = "" if count == 1 else " (and 1 other pod)" if count == 2 else f" (and {count - 1} other pods)"
            decorated.append(f"{first}{others}: {reason}")
        return warnings + sorted(decorated)
