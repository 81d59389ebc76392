"""What an authorizer decides on, as Kubernetes' `authorizer.Attributes`, and what it answers."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from apiserver.authn.user import UserInfo

__all__ = ["Attributes", "Authorizer", "Decision", "Verdict"]


@dataclass(frozen=True)
class Attributes:
    user: UserInfo
    verb: str  # get list watch create update patch delete deletecollection, or an HTTP verb for non-resource paths
    resource_request: bool
    namespace: str = ""
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    path: str = ""  # non-resource requests: the URL path


class Decision(enum.Enum):
    ALLOW = "allow"
    DENY = "deny"
    NO_OPINION = "no-opinion"


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOW


class Authorizer(Protocol):
    def authorize(self, attrs: Attributes) -> Verdict: ...
