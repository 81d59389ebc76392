"""Priority: a new pod's `priority` and `preemptionPolicy` come from its PriorityClass, or from the global
default class (whose name the pod then carries), or are 0 and PreemptLowerPriority when there is none
(plugin/pkg/admission/priority). A class that does not exist, or a priority or policy the pod sets that
disagrees with its class, is Forbidden.

PriorityClasses are read from memory, as Kubernetes' plugin reads its lister: an index fed by the apiserver's own
watch cache and by its committed writes (`indexes.NamespacedIndex`, cluster-scoped: namespace ""), so a pod's
create no longer lists every PriorityClass from etcd. A class the index does not hold is still looked up in etcd
(one just created through another apiserver, or a system class that is not stored)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from apiserver.admission.chain import Attributes, Plugin
from apiserver.admission.indexes import NamespacedIndex
from kube import errors
from kube.resources import PODS, ResourceType, by_plural
from kube.scheduling import PREEMPT_LOWER_PRIORITY, SYSTEM_PRIORITY_CLASSES

if TYPE_CHECKING:
    from apiserver.rest import Registry

__all__ = ["Priority"]

Obj = dict[str, Any]

_PRIORITYCLASSES = by_plural("scheduling.k8s.io", "v1", "priorityclasses")


class Priority(Plugin):
    name = "Priority"

    def __init__(self) -> None:
        self._registry: Registry | None = None
        assert _PRIORITYCLASSES is not None
        self.index = NamespacedIndex(_PRIORITYCLASSES)

    async def start(self, registry: Registry) -> None:
        self._registry = registry
        await self.index.start(registry)

    async def stop(self) -> None:
        await self.index.stop()

    def observe(self, resource: ResourceType, stored: Obj) -> None:
        if resource is _PRIORITYCLASSES:
            self.index.observe(stored)

    async def _class(self, name: str) -> Obj | None:
        assert self._registry is not None, "started with the registry"
        for pc in await self.index.in_namespace(""):
            if pc["metadata"]["name"] == name:
                return pc
        storage = self._registry.storage
        found = await storage.get(storage.key("priorityclasses", None, name))
        if found is None and name in SYSTEM_PRIORITY_CLASSES:
            return {"value": SYSTEM_PRIORITY_CLASSES[name], "preemptionPolicy": PREEMPT_LOWER_PRIORITY}
        return found

    async def _global_default(self) -> Obj | None:
        defaults = sorted((pc for pc in await self.index.in_namespace("") if pc.get("globalDefault")),
                          key=lambda pc: int(pc.get("value") or 0))
        return defaults[0] if defaults else None  # several: the lowest value wins, as in getDefaultPriority

    async def admit(self, attrs: Attributes) -> None:
        if attrs.operation != "CREATE" or attrs.resource is not PODS or attrs.subresource or not attrs.obj:
            return
        spec, name = attrs.obj.setdefault("spec", {}), attrs.name
        class_name = spec.get("priorityClassName")
        priority, policy = 0, PREEMPT_LOWER_PRIORITY
        if class_name:
            pc = await self._class(class_name)
            if pc is None:
                raise errors.Forbidden(f'pods "{name}" is forbidden: no PriorityClass with name {class_name} '
                                       "was found", name=name, kind="pods")
            priority, policy = int(pc.get("value") or 0), pc.get("preemptionPolicy") or PREEMPT_LOWER_PRIORITY
        elif (default := await self._global_default()) is not None:
            spec["priorityClassName"] = default["metadata"]["name"]
            priority = int(default.get("value") or 0)
            policy = default.get("preemptionPolicy") or PREEMPT_LOWER_PRIORITY
        for field, computed, kind in (("priority", priority, "integer"), ("preemptionPolicy", policy, "string")):
            given = spec.get(field)
            if given is not None and given != computed:
                shown = "PreemptionPolicy" if field == "preemptionPolicy" else "priority"
                raise errors.Forbidden(
                    f'pods "{name}" is forbidden: the {kind} value of {shown} ({given}) must not be provided in '
                    f"pod spec; priority admission controller computed {computed} from the given PriorityClass "
                    "name", name=name, kind="pods")
            spec[field] = computed
