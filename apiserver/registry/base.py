"""How one resource type is created, updated, validated and deleted: a Strategy per kind.

The generic REST handlers call these hooks; each kind overrides only what differs (defaulting, semantic
validation, what an update may change, graceful deletion), as Kubernetes' registry strategies do.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import ValidationError

from apiserver import validation as v
from apiserver.authn.user import UserInfo
from apiserver.registry import godecode
from kube import errors
from kube.models import KubeModel, prune_unknown_fields, unknown_fields
from kube.resources import ResourceType

__all__ = ["Strategy"]

Obj = dict[str, Any]

#: Kubernetes' TotalAnnotationSizeLimitB: keys and values together, in bytes.
ANNOTATIONS_SIZE_LIMIT = 256 * 1024

#: metadata a client cannot set or change through a write: kept from the stored object.
SYSTEM_METADATA = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation")


class Strategy:
    model: ClassVar[type[KubeModel] | None] = None
    #: the status is written only through the status subresource; main-resource writes keep the old one.
    status_subresource: ClassVar[bool] = False
    #: object names: DNS-1123 subdomain for most kinds, label for namespaces, any path segment for RBAC's.
    name_is_label: ClassVar[bool] = False
    name_is_path_segment: ClassVar[bool] = False
    #: metadata.generation is kept (1 at create, +1 on each spec change) only for kinds whose strategy sets it
    #: in Kubernetes: workloads and Pods, whose controllers report status.observedGeneration.
    tracks_generation: ClassVar[bool] = False

    def __init__(self, resource: ResourceType) -> None:
        self.resource = resource

    # ------------------------------------------------------------------ decoding

    def decode(self, obj: Obj, field_validation: str = "Warn") -> tuple[Obj, list[str]]:
        """Type-check through the model (a value of the wrong type is a `godecode.DecodeError`, a missing one
        Invalid); unknown fields rejected (Strict) or dropped with warnings."""
        if self.model is None:
            return obj, []
        try:
            model = self.model.model_validate(obj)
        except ValidationError as exc:
            refused = godecode.refusal(self.resource.kind, self.resource.version, self.model, obj, exc)
            if refused is not None:  # a wrong JSON type: Go's decoder refuses it before validation runs (400)
                raise refused from None
            name = (obj.get("metadata") or {}).get("name") or ""
            raise errors.Invalid.for_object(
                self.resource.kind, name, v.causes_from_pydantic(exc), self.resource.group
            ) from None
        unknown = unknown_fields(model)
        if unknown and field_validation == "Strict":
            raise errors.BadRequest(
                "strict decoding error: " + ", ".join(f'unknown field "{p}"' for p in unknown)
            )
        if unknown:
            prune_unknown_fields(model)
        self.default(model)
        warnings = [f'unknown field "{p}"' for p in unknown] if field_validation == "Warn" else []
        return model.to_dict(), warnings

    # ------------------------------------------------------------------ hooks

    def default(self, model: Any) -> None:
        """Fill in server-side defaults on the typed object."""

    def set_requester(self, obj: Obj, user: UserInfo | None) -> None:
        """Record who asked, for kinds that keep it (a CertificateSigningRequest); before validation."""

    def prepare_for_create(self, obj: Obj) -> None:
        """Reset what a client may not set at creation (e.g. a Pod's status)."""

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        if self.status_subresource:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)

    def prepare_for_status_update(self, new: Obj, old: Obj) -> Obj:
        """The object stored by a status write: the old object with only the new status."""
        merged = {**old, "status": new.get("status")}
        if merged["status"] is None:
            merged.pop("status")
        return merged

    def validate(self, obj: Obj) -> list[errors.Cause]:
        return self.validate_metadata(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[errors.Cause]:
        return self.validate(new)

    def for_subresource(self, subresource: str | None) -> Strategy:
        """The strategy a write through `subresource` follows, as Kubernetes gives some subresources a strategy
        of their own (pods/ephemeralcontainers); status and finalize have their own hooks here."""
        return self

    def prepare_for_finalize(self, new: Obj, old: Obj) -> Obj:
        """The object stored by a `finalize` write; only namespaces have that subresource."""
        raise errors.MethodNotAllowed(f"{self.resource.plural} have no finalize subresource")

    def holds_deletion(self, obj: Obj) -> bool:
        """Whether something besides metadata.finalizers keeps a deleted object (a namespace's spec)."""
        return False

    def mark_deleting(self, obj: Obj) -> None:
        """Adjust an object as its deletionTimestamp is set (a namespace turns Terminating)."""

    def graceful_delete_seconds(self, obj: Obj, requested: int | None) -> int:
        """How long a deleted object lingers with a deletionTimestamp before it is removed (0: at once)."""
        return 0

    # ------------------------------------------------------------------ shared validation

    def validate_metadata(self, obj: Obj) -> list[errors.Cause]:
        meta = obj.get("metadata") or {}
        causes: list[errors.Cause] = []
        name = meta.get("name")
        if not name:
            causes.append(v.required("metadata.name", "name or generateName is required"))
        elif self.name_is_label:
            causes += v.dns1123_label(name, "metadata.name")
        elif self.name_is_path_segment:
            causes += v.path_segment_name(name, "metadata.name")
        else:
            causes += v.dns1123_subdomain(name, "metadata.name")
        if self.resource.namespaced and not meta.get("namespace"):
            causes.append(v.required("metadata.namespace"))
        for key, value in (meta.get("labels") or {}).items():
            causes += v.label_key(key, "metadata.labels")
            causes += v.label_value(value, f"metadata.labels.{key}" if "." not in key else "metadata.labels")
        annotations = meta.get("annotations") or {}
        for key in annotations:
            causes += v.label_key(key, "metadata.annotations")
        if sum(len(k.encode()) + len(x.encode()) for k, x in annotations.items()) > ANNOTATIONS_SIZE_LIMIT:
            causes.append(v.too_long("metadata.annotations", ANNOTATIONS_SIZE_LIMIT))
        return causes

    def check(self, causes: list[errors.Cause], obj: Obj) -> None:
        if causes:
            name = (obj.get("metadata") or {}).get("name") or ""
            raise errors.Invalid.for_object(self.resource.kind, name, causes, self.resource.group)


def spec_changed(new: Obj, old: Obj) -> bool:
    """Whether anything outside metadata and status differs: what bumps metadata.generation."""
    ignore = ("metadata", "status", "kind", "apiVersion")
    return {k: v for k, v in new.items() if k not in ignore} != {k: v for k, v in old.items() if k not in ignore}
