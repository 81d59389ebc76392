"""LimitRanges, ResourceQuotas and PriorityClasses (stored and validated; enforcement lives elsewhere)."""

from __future__ import annotations

from typing import Any, ClassVar

from apiserver import validation as v
from apiserver.registry.base import Strategy
from apiserver.registry.quantities import canonical_list
from kube import errors, quantity
from kube.models import KubeModel
from kube.models import policy as models

__all__ = ["LimitRangeStrategy", "PriorityClassStrategy", "ResourceQuotaStrategy"]

Obj = dict[str, Any]
Causes = list[errors.Cause]

LIMIT_TYPES = ["Container", "PersistentVolumeClaim", "Pod"]
HIGHEST_USER_PRIORITY = 1_000_000_000


class LimitRangeStrategy(Strategy):
    model: ClassVar[type[KubeModel] | None] = models.LimitRange

    def default(self, lr: models.LimitRange) -> None:
        """SetDefaults_LimitRangeItem, for Container items: the default limit falls back to max, the default
        request to the default limit, then to min."""
        for item in lr.spec.limits:
            for field in ("max", "min", "default", "default_request", "max_limit_request_ratio"):
                setattr(item, field, canonical_list(getattr(item, field)))
            if item.type != "Container":
                continue
            for key, value in item.max.items():
                item.default.setdefault(key, value)
            for key, value in item.default.items():
                item.default_request.setdefault(key, value)
            for key, value in item.min.items():
                item.default_request.setdefault(key, value)

    def validate(self, obj: Obj) -> Causes:
        causes = self.validate_metadata(obj)
        for i, item in enumerate((obj.get("spec") or {}).get("limits") or []):
            path = f"spec.limits[{i}]"
            if item.get("type") not in LIMIT_TYPES:
                causes.append(v.not_supported(f"{path}.type", item.get("type"), LIMIT_TYPES))
            low, high = item.get("min") or {}, item.get("max") or {}
            for name in set(low) & set(high):
                if quantity.parse(low[name]) > quantity.parse(high[name]):
                    causes.append(v.invalid(f"{path}.min[{name}]", low[name],
                                            f"min value {low[name]} is greater than max value {high[name]}"))
        return causes


class ResourceQuotaStrategy(Strategy):
    model: ClassVar[type[KubeModel] | None] = models.ResourceQuota
    status_subresource = True

    def default(self, rq: models.ResourceQuota) -> None:
        rq.spec.hard = canonical_list(rq.spec.hard)

    def decode(self, obj: Obj, field_validation: str = "Warn") -> tuple[Obj, list[str]]:
        decoded, warnings = super().decode(obj, field_validation)
        decoded.setdefault("status", {})  # ResourceQuotaStatus is a struct: Go always writes it
        return decoded, warnings

    def prepare_for_create(self, obj: Obj) -> None:
        obj["status"] = {}  # resourcequota PrepareForCreate: the zero status

    def validate(self, obj: Obj) -> Causes:
        causes = self.validate_metadata(obj)
        for name, value in ((obj.get("spec") or {}).get("hard") or {}).items():
            if quantity.parse(value) < 0:
                causes.append(v.invalid(f"spec.hard[{name}]", value, "must be greater than or equal to 0"))
        return causes


class PriorityClassStrategy(Strategy):
    model: ClassVar[type[KubeModel] | None] = models.PriorityClass

    def default(self, pc: models.PriorityClass) -> None:
        pc.preemption_policy = pc.preemption_policy or "PreemptLowerPriority"

    def validate(self, obj: Obj) -> Causes:
        causes = self.validate_metadata(obj)
        name = obj["metadata"].get("name") or ""
        if obj.get("value", 0) > HIGHEST_USER_PRIORITY and not name.startswith("system-"):
            causes.append(v.forbidden("value", f"maximum allowed value of a user defined priority is "
                                               f"{HIGHEST_USER_PRIORITY}"))
        policies = ["Never", "PreemptLowerPriority"]
        if obj.get("preemptionPolicy") not in policies:
            causes.append(v.not_supported("preemptionPolicy", obj.get("preemptionPolicy"), policies))
        return causes

    def validate_update(self, new: Obj, old: Obj) -> Causes:
        causes = self.validate(new)
        for field in ("value", "preemptionPolicy"):
            if new.get(field) != old.get(field):
                causes.append(v.forbidden(field, "may not be changed in an update."))
        return causes
