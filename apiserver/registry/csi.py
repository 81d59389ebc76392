"""storage.k8s.io/v1's CSI kinds: CSIStorageCapacity, as Kubernetes' csiStorageCapacityStrategy and
ValidateCSIStorageCapacity/Update (pkg/apis/storage/validation) take it.

Served and stored only: kubelite runs no CSI driver to publish capacities and no scheduler plugin that reads them
(its volumes are hostPath-backed; see `apiserver.registry.storage` for PersistentVolumes and StorageClasses).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from apiserver import validation as v
from apiserver.registry.base import Strategy
from apiserver.registry.quantities import canonical
from apiserver.registry.workloads import validate_selector
from kube import errors
from kube.models import KubeModel
from kube.models import storage as models

__all__ = ["CSIStorageCapacityStrategy"]

Obj = dict[str, Any]
Causes = list[errors.Cause]


class CSIStorageCapacityStrategy(Strategy):
    """The StorageClass name and node topology say what a capacity was measured for, so they never change; the
    capacity is a non-negative quantity, stored in canonical form."""

    model: ClassVar[type[KubeModel] | None] = models.CSIStorageCapacity

    def decode(self, obj: Obj, field_validation: str = "Warn") -> tuple[Obj, list[str]]:
        decoded, warnings = super().decode(obj, field_validation)
        decoded.setdefault("storageClassName", "")  # no omitempty
        for field in ("capacity", "maximumVolumeSize"):
            if isinstance(decoded.get(field), str):
                decoded[field] = canonical(decoded[field])
        return decoded, warnings

    def validate(self, obj: Obj) -> Causes:
        causes = self.validate_metadata(obj)
        if obj.get("nodeTopology") is not None:
            causes += validate_selector(obj["nodeTopology"], "nodeTopology")
        causes += v.dns1123_subdomain(obj.get("storageClassName") or "", "storageClassName")
        capacity = obj.get("capacity")
        if isinstance(capacity, str) and capacity.startswith("-"):
            causes.append(v.invalid("capacity", capacity, "must be greater than or equal to 0"))
        return causes

    def validate_update(self, new: Obj, old: Obj) -> Causes:
        causes = self.validate(new)
        if new.get("nodeTopology") != old.get("nodeTopology"):
            causes.append({"reason": "FieldValueInvalid", "field": "nodeTopology",
                           "message": f"Invalid value: {json.dumps(new.get('nodeTopology'))}: field is immutable"})
        if new.get("storageClassName") != old.get("storageClassName"):
            causes.append(v.invalid("storageClassName", new.get("storageClassName") or "", "field is immutable"))
        return causes
