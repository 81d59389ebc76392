"""Who a request is from, as Kubernetes' `user.Info` says it: a name, a UID, groups and extra attributes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "ALL_AUTHENTICATED", "ALL_UNAUTHENTICATED", "ANONYMOUS", "NODES_GROUP", "NODE_USER_PREFIX", "SYSTEM_MASTERS",
    "UserInfo", "node_name",
]

SYSTEM_MASTERS = "system:masters"
ALL_AUTHENTICATED = "system:authenticated"
ALL_UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS = "system:anonymous"
NODES_GROUP = "system:nodes"
NODE_USER_PREFIX = "system:node:"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"


@dataclass(frozen=True)
class UserInfo:
    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def to_status(self) -> dict[str, object]:
        """The `userInfo` of TokenReview and SelfSubjectReview status."""
        out: dict[str, object] = {"username": self.name}
        if self.uid:
            out["uid"] = self.uid
        if self.groups:
            out["groups"] = list(self.groups)
        if self.extra:
            out["extra"] = {k: list(v) for k, v in self.extra.items()}
        return out


def node_name(user: UserInfo) -> str | None:
    """The node a kubelet's identity names (`system:node:NAME` in `system:nodes`), else None."""
    if NODES_GROUP in user.groups and user.name.startswith(NODE_USER_PREFIX):
        return user.name[len(NODE_USER_PREFIX):] or None
    return None
