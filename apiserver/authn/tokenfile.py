"""Static bearer tokens from --token-auth-file, in Kubernetes' CSV format: `token,user,uid,"group1,group2"`."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from apiserver.authn.user import ALL_AUTHENTICATED, UserInfo

__all__ = ["TokenFileAuthenticator", "read_token_file"]


def read_token_file(path: Path) -> dict[str, UserInfo]:
    tokens: dict[str, UserInfo] = {}
    with path.open(newline="") as f:
        for number, row in enumerate(csv.reader(f), 1):
            if not row or row[0].startswith("#"):
                continue
            if len(row) < 3:
                raise ValueError(f"{path}:{number}: expected token,user,uid[,\"groups\"]")
            token, user, uid = (cell.strip() for cell in row[:3])
            if not token or not user:
                raise ValueError(f"{path}:{number}: the token and the user name must not be empty")
            groups = tuple(g.strip() for g in row[3].split(",") if g.strip()) if len(row) > 3 else ()
            tokens[token] = UserInfo(user, uid, (*groups, ALL_AUTHENTICATED))
    return tokens


class TokenFileAuthenticator:
    def __init__(self, tokens: dict[str, UserInfo]) -> None:
        self._tokens = tokens

    @classmethod
    def from_file(cls, path: Path) -> TokenFileAuthenticator:
        return cls(read_token_file(path))

    def authenticate_token(self, token: str, audiences: Sequence[str] = ()) -> UserInfo | None:
        """Static tokens carry no audience: valid for any, as kube-apiserver treats them."""
        return self._tokens.get(token)
