"""Asking the apiserver whether someone may do something: a SubjectAccessReview (what the kubelet's webhook
authorization and the CSR approver ask)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kube.client.rest import ApiClient

__all__ = ["SAR_PATH", "subject_may"]

SAR_PATH = "/apis/authorization.k8s.io/v1/subjectaccessreviews"


async def subject_may(client: ApiClient, user: str, groups: Sequence[str], resource_attributes: Mapping[str, Any],
                      *, uid: str = "", extra: Mapping[str, Sequence[str]] | None = None) -> bool:
    """Whether the apiserver allows `user` (in `groups`) the request `resource_attributes` describe."""
    spec: dict[str, Any] = {"user": user, "groups": list(groups), "resourceAttributes": dict(resource_attributes)}
    if uid:
        spec["uid"] = uid
    if extra:
        spec["extra"] = {k: list(v) for k, v in extra.items()}
    answer = await client.request_object("POST", SAR_PATH, body={
        "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec})
    return bool((answer.get("status") or {}).get("allowed"))
