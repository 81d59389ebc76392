"""certificates.k8s.io/v1 CertificateSigningRequest: a client asks a signer for a certificate for its key."""

from __future__ import annotations

from pydantic import Field

from kube.models.base import Int32, KubeModel, Time
from kube.models.meta import TypedObject


class CertificateSigningRequestSpec(KubeModel):
    request: str = ""  # base64 of a PEM "CERTIFICATE REQUEST" block
    signer_name: str = ""
    expiration_seconds: Int32 | None = None
    usages: list[str] = Field(default_factory=list)
    # who asked: set by the apiserver from the request's user, never by the client
    username: str | None = None
    uid: str | None = None
    groups: list[str] = Field(default_factory=list)
    extra: dict[str, list[str]] = Field(default_factory=dict)


class CertificateSigningRequestCondition(KubeModel):
    type: str = ""
    status: str = ""
    reason: str | None = None
    message: str | None = None
    last_update_time: Time | None = None
    last_transition_time: Time | None = None


class CertificateSigningRequestStatus(KubeModel):
    conditions: list[CertificateSigningRequestCondition] = Field(default_factory=list)
    certificate: str | None = None  # base64 of PEM "CERTIFICATE" blocks, set by the signer


class CertificateSigningRequest(TypedObject):
    spec: CertificateSigningRequestSpec = Field(default_factory=CertificateSigningRequestSpec)
    status: CertificateSigningRequestStatus | None = None
