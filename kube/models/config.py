"""core/v1 configuration kinds: ConfigMap, Secret, ServiceAccount."""

from __future__ import annotations

from pydantic import Field

from kube.models.core import LocalObjectReference
from kube.models.meta import ObjectReference, TypedObject


class ConfigMap(TypedObject):
    data: dict[str, str] = Field(default_factory=dict)
    binary_data: dict[str, str] = Field(default_factory=dict)
    immutable: bool | None = None


class Secret(TypedObject):
    #: values are base64; `stringData` is write-only plain text merged into `data` by the apiserver.
    data: dict[str, str] = Field(default_factory=dict)
    string_data: dict[str, str] = Field(default_factory=dict)
    type: str | None = None
    immutable: bool | None = None


class ServiceAccount(TypedObject):
    secrets: list[ObjectReference] = Field(default_factory=list)
    image_pull_secrets: list[LocalObjectReference] = Field(default_factory=list)
    automount_service_account_token: bool | None = None
