"""PersistentVolumes, PersistentVolumeClaims and StorageClasses."""

from __future__ import annotations

from typing import Any, ClassVar

from apiserver import validation as v
from apiserver.registry.base import Strategy
from apiserver.registry.quantities import canonical_list
from kube import errors
from kube.models import KubeModel
from kube.models import storage as models

__all__ = ["PersistentVolumeClaimStrategy", "PersistentVolumeStrategy", "StorageClassStrategy"]

Obj = dict[str, Any]
Causes = list[errors.Cause]

ACCESS_MODES = ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"]
RECLAIM_POLICIES = ["Delete", "Recycle", "Retain"]


def _access_modes(modes: list[str], path: str) -> Causes:
    if not modes:
        return [v.required(path)]
    return [v.not_supported(path, m, ACCESS_MODES) for m in modes if m not in ACCESS_MODES]


def default_claim_spec(spec: models.PersistentVolumeClaimSpec) -> None:
    """SetDefaults_PersistentVolumeClaimSpec (volumeMode) and SetDefaults_ResourceList on its resources."""
    spec.volume_mode = spec.volume_mode or "Filesystem"
    if spec.resources is not None:
        spec.resources.limits = canonical_list(spec.resources.limits)
        spec.resources.requests = canonical_list(spec.resources.requests)


class PersistentVolumeStrategy(Strategy):
    model: ClassVar[type[KubeModel] | None] = models.PersistentVolume
    status_subresource = True

    def default(self, pv: models.PersistentVolume) -> None:
        pv.spec.persistent_volume_reclaim_policy = pv.spec.persistent_volume_reclaim_policy or "Retain"
        pv.spec.volume_mode = pv.spec.volume_mode or "Filesystem"
        pv.spec.capacity = canonical_list(pv.spec.capacity)
        if pv.spec.host_path is not None and pv.spec.host_path.type is None:
            pv.spec.host_path.type = ""  # SetDefaults_HostPathVolumeSource: HostPathUnset, written as ""

    def prepare_for_create(self, obj: Obj) -> None:
        obj["status"] = {"phase": "Pending"}

    def validate(self, obj: Obj) -> Causes:
        spec = obj.get("spec") or {}
        causes = self.validate_metadata(obj) + _access_modes(spec.get("accessModes") or [], "spec.accessModes")
        if "storage" not in (spec.get("capacity") or {}):
            causes.append(v.required("spec.capacity[storage]"))
        if not any(spec.get(src) for src in ("hostPath", "local", "nfs", "csi")):
            causes.append(v.required("spec", "must specify a volume type"))
        if spec.get("persistentVolumeReclaimPolicy") not in RECLAIM_POLICIES:
            causes.append(v.not_supported("spec.persistentVolumeReclaimPolicy",
                                          spec.get("persistentVolumeReclaimPolicy"), RECLAIM_POLICIES))
        return causes


class PersistentVolumeClaimStrategy(Strategy):
    model: ClassVar[type[KubeModel] | None] = models.PersistentVolumeClaim
    status_subresource = True

    def default(self, pvc: models.PersistentVolumeClaim) -> None:
        default_claim_spec(pvc.spec)

    def decode(self, obj: Obj, field_validation: str = "Warn") -> tuple[Obj, list[str]]:
        decoded, warnings = super().decode(obj, field_validation)
        decoded.setdefault("spec", {}).setdefault("resources", {})  # a struct: Go writes it, `{}` when empty
        return decoded, warnings

    def prepare_for_create(self, obj: Obj) -> None:
        obj["status"] = {"phase": "Pending"}

    def validate(self, obj: Obj) -> Causes:
        spec = obj.get("spec") or {}
        causes = self.validate_metadata(obj) + _access_modes(spec.get("accessModes") or [], "spec.accessModes")
        if "storage" not in ((spec.get("resources") or {}).get("requests") or {}):
            causes.append(v.required("spec.resources[storage]"))
        return causes

    def validate_update(self, new: Obj, old: Obj) -> Causes:
        causes = self.validate(new)
        mutable: tuple[str, ...] = ("resources", "volumeName")
        if old["spec"].get("storageClassName") is None:
            mutable += ("storageClassName",)  # set once from unset: the retroactive default StorageClass
        if {k: x for k, x in new["spec"].items() if k not in mutable} != {
                k: x for k, x in old["spec"].items() if k not in mutable}:
            causes.append(v.forbidden("spec", "spec is immutable after creation except resources.requests and "
                                              "volumeAttributesClassName for bound claims"))
        if old["spec"].get("volumeName") and new["spec"].get("volumeName") != old["spec"]["volumeName"]:
            causes.append(v.forbidden("spec.volumeName", "field is immutable once the claim is bound"))
        return causes


class StorageClassStrategy(Strategy):
    model: ClassVar[type[KubeModel] | None] = models.StorageClass

    def default(self, sc: models.StorageClass) -> None:
        sc.reclaim_policy = sc.reclaim_policy or "Delete"
        sc.volume_binding_mode = sc.volume_binding_mode or "Immediate"

    def validate(self, obj: Obj) -> Causes:
        causes = self.validate_metadata(obj)
        if not obj.get("provisioner"):
            causes.append(v.required("provisioner"))
        if obj.get("reclaimPolicy") not in ("Delete", "Retain"):
            causes.append(v.not_supported("reclaimPolicy", obj.get("reclaimPolicy"), ["Delete", "Retain"]))
        modes = ["Immediate", "WaitForFirstConsumer"]
        if obj.get("volumeBindingMode") not in modes:
            causes.append(v.not_supported("volumeBindingMode", obj.get("volumeBindingMode"), modes))
        return causes

    def validate_update(self, new: Obj, old: Obj) -> Causes:
        causes = self.validate(new)
        for field in ("provisioner", "parameters", "reclaimPolicy", "volumeBindingMode"):
            if new.get(field) != old.get(field):
                causes.append(v.forbidden(field, "updates to " + field + " are forbidden."))
        return causes
