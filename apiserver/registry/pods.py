"""Pods: defaulting, validation, immutability of the spec, graceful deletion."""

from __future__ import annotations

from typing import Any

from apiserver import validation as v
from apiserver.registry.base import Strategy
from apiserver.registry.podspec import default_pod, validate_pod_spec
from apiserver.storage import EtcdStorage
from kube import errors
from kube.models import Pod

Obj = dict[str, Any]

#: The ServiceAccount admission plugin's account for a pod that names none.
DEFAULT_SERVICE_ACCOUNT = "default"
#: The classes kube-apiserver creates at bootstrap (pkg/apis/scheduling: SystemPriorityClasses), used when
#: their objects are not stored.
SYSTEM_PRIORITY_CLASSES = {"system-node-critical": 2_000_001_000, "system-cluster-critical": 2_000_000_000}
PREEMPT_LOWER_PRIORITY = "PreemptLowerPriority"


def qos_class(pod: Obj) -> str:
    containers = pod["spec"].get("containers", []) + pod["spec"].get("initContainers", [])
    requests_any = limits_all = False
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        requests_any = requests_any or bool(req) or bool(lim)
        for r in ("cpu", "memory"):
            if r not in lim or req.get(r, lim[r]) != lim[r]:
                guaranteed = False
        limits_all = True
    if not requests_any:
        return "BestEffort"
    return "Guaranteed" if guaranteed and limits_all else "Burstable"


class PodStrategy(Strategy):
    model = Pod
    status_subresource = True

    def default(self, pod: Pod) -> None:
        default_pod(pod.spec)

    def prepare_for_create(self, obj: Obj) -> None:
        """pkg/registry/core/pod/strategy.go PrepareForCreate: the status is reset to Pending with the QoS
        class (conditions are the scheduler's and the kubelet's to write). Then what the ServiceAccount
        admission plugin does to every new pod's spec: `serviceAccountName` (and the deprecated
        `serviceAccount`) "default" when unset."""
        obj["status"] = {"phase": "Pending", "qosClass": qos_class(obj)}
        spec = obj["spec"]
        if not spec.get("serviceAccountName"):
            spec["serviceAccountName"] = DEFAULT_SERVICE_ACCOUNT
        spec["serviceAccount"] = spec["serviceAccountName"]

    async def before_create(self, obj: Obj, storage: EtcdStorage) -> None:
        """The Priority admission plugin (plugin/pkg/admission/priority): `priority` and `preemptionPolicy`
        from the pod's PriorityClass, or from the global default class (whose name the pod then carries), or
        0 and PreemptLowerPriority when there is none. A class that does not exist, or a priority or policy
        that disagrees with the class, is Forbidden."""
        spec, name = obj["spec"], obj["metadata"]["name"]
        class_name = spec.get("priorityClassName")
        policy: str | None = PREEMPT_LOWER_PRIORITY
        if class_name:
            pc = await storage.get(storage.key("priorityclasses", None, class_name))
            if pc is None and class_name in SYSTEM_PRIORITY_CLASSES:
                pc = {"value": SYSTEM_PRIORITY_CLASSES[class_name], "preemptionPolicy": PREEMPT_LOWER_PRIORITY}
            if pc is None:
                raise errors.Forbidden(f'pods "{name}" is forbidden: no PriorityClass with name {class_name} '
                                       f"was found", name=name, kind="pods")
            priority, policy = int(pc.get("value") or 0), pc.get("preemptionPolicy")
        else:
            page = await storage.list(storage.prefix("priorityclasses"))
            defaults = sorted((pc for pc in page.items if pc.get("globalDefault")),
                              key=lambda pc: int(pc.get("value") or 0))
            priority = 0
            if defaults:  # several: the lowest value wins, as in getDefaultPriority
                spec["priorityClassName"] = defaults[0]["metadata"]["name"]
                priority, policy = int(defaults[0].get("value") or 0), defaults[0].get("preemptionPolicy")
        if spec.get("priority") is not None and spec["priority"] != priority:
            raise errors.Forbidden(
                f'pods "{name}" is forbidden: the integer value of priority ({spec["priority"]}) must not be '
                f"provided in pod spec; priority admission controller computed {priority} from the given "
                f"PriorityClass name", name=name, kind="pods")
        spec["priority"] = priority
        if policy is not None:
            if spec.get("preemptionPolicy") is not None and spec["preemptionPolicy"] != policy:
                raise errors.Forbidden(
                    f'pods "{name}" is forbidden: the string value of PreemptionPolicy ({spec["preemptionPolicy"]}) '
                    f"must not be provided in pod spec; priority admission controller computed {policy} from the "
                    f"given PriorityClass name", name=name, kind="pods")
            spec["preemptionPolicy"] = policy

    def validate(self, obj: Obj) -> list[errors.Cause]:
        return self.validate_metadata(obj) + validate_pod_spec(obj.get("spec") or {}, "spec")

    def validate_update(self, new: Obj, old: Obj) -> list[errors.Cause]:
        causes = self.validate(new)
        if _mutable_view(new["spec"]) != _mutable_view(old["spec"]):
            causes.append(v.forbidden(
                "spec",
                "pod updates may not change fields other than `spec.containers[*].image`, "
                "`spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, "
                "`spec.tolerations` (only additions to existing tolerations) or "
                "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
            ))
        return causes

    def graceful_delete_seconds(self, obj: Obj, requested: int | None) -> int:
        # Unscheduled and finished pods have no kubelet to wait for.
        if not obj["spec"].get("nodeName") or (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return 0
        if requested is not None:
            return max(requested, 0)
        return int(obj["spec"].get("terminationGracePeriodSeconds", 30))


def _mutable_view(spec: Obj) -> Obj:
    """The spec with the fields an update may change blanked out."""
    view = {k: val for k, val in spec.items()
            if k not in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds")}
    for group in ("containers", "initContainers"):
        if group in view:
            view[group] = [{k: val for k, val in c.items() if k != "image"} for c in view[group]]
    return view
