"""core/v1 Binding: the body a scheduler POSTs to `pods/{name}/binding`."""

from __future__ import annotations

from pydantic import Field

from kube.models.base import KubeModel
from kube.models.meta import ObjectMeta, ObjectReference


class Binding(KubeModel):
    api_version: str | None = None
    kind: str | None = None
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    target: ObjectReference
