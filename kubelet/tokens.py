"""The kubelet's service-account token manager (Kubernetes' pkg/kubelet/token): the tokens of the pods'
projected `serviceAccountToken` sources, asked of the TokenRequest API and kept until they need a refresh.

`get` answers the cached token of a (service account, audiences, lifetime, pod) key while it is fresh, and
asks the API for a new one once 80 % of its lifetime has passed (less a jitter of up to 10 s) or it is older
than 24 h; a failed refresh keeps the old token while it is still valid, and is an error (`TokenError`) only
for a first request or an expired token — Kubernetes' GetServiceAccountToken. `kubelet.volumes` calls it at
every setup of a projected volume, and the atomic writer rewrites the token file when the token changed.

`run` is the level-triggered loop beside the pod workers: every period it drops expired tokens and hands the
key of each pod whose token is due for a refresh to `on_due` (the pod workers' queue), so the refresh never
waits on an unrelated sync. `forget_pod` drops a pod's tokens when the pod goes.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from kube import errors, timeutil

__all__ = ["DEFAULT_EXPIRATION_SECONDS", "MIN_EXPIRATION_SECONDS", "Token", "TokenError", "TokenManager",
           "token_request"]

log = logging.getLogger("kubelet.tokens")

Obj = dict[str, Any]
#: (namespace, service account name, TokenRequest) -> the TokenRequest the API answered
RequestToken = Callable[[str, str, Obj], Awaitable[Obj]]

MAX_TTL = 24 * 3600.0  # a token older than this is refreshed, whatever its lifetime
MAX_JITTER = 10.0
GC_PERIOD = 60.0
DEFAULT_EXPIRATION_SECONDS = 3600  # the API's default for a serviceAccountToken projection
MIN_EXPIRATION_SECONDS = 600  # the shortest lifetime the TokenRequest API grants


class TokenError(Exception):
    """No valid token for a pod: the first request failed, or the token expired and its refresh failed."""


@dataclass(frozen=True)
class Key:
    """What a token is for; never the token itself, so it is safe to log."""

    namespace: str
    service_account: str
    audiences: tuple[str, ...]
    expiration_seconds: int
    pod_name: str
    pod_uid: str

    def __str__(self) -> str:
        return (f'"{self.service_account}"/"{self.namespace}"/{list(self.audiences)}/{self.expiration_seconds}/'
                f'Pod "{self.pod_name}" ({self.pod_uid})')


@dataclass(frozen=True)
class Token:
    token: str
    expires: float  # wall-clock seconds
    expiration_seconds: int  # the lifetime the API granted (spec.expirationSeconds of its answer)

    @property
    def issued(self) -> float:
        return self.expires - self.expiration_seconds


def token_request(pod: Obj, source: Obj) -> tuple[Key, Obj]:
    """The key and the TokenRequest body for a projected serviceAccountToken `source` of `pod`, as the
    kubelet's projected volume plugin builds it: the pod's service account, `audience` as the only audience
    (none: the API's own), `expirationSeconds` (default 3600, at least 600), bound to the pod by name and UID."""
    meta, spec = pod["metadata"], pod.get("spec") or {}
    account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    audiences = (source["audience"],) if source.get("audience") else ()
    seconds = max(MIN_EXPIRATION_SECONDS, int(source.get("expirationSeconds") or DEFAULT_EXPIRATION_SECONDS))
    key = Key(meta["namespace"], account, audiences, seconds, meta["name"], meta["uid"])
    body: Obj = {
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
        "spec": {"audiences": list(audiences), "expirationSeconds": seconds,
                 "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": meta["name"], "uid": meta["uid"]}},
    }
    return key, body


class TokenManager:
    def __init__(
        self,
        request: RequestToken,
        *,
        on_due: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
        period: float = 10.0,
    ) -> None:
        self.request = request
        self.on_due = on_due
        self.clock = clock
        self.jitter = jitter  # a fraction in [0, 1) of MAX_JITTER
        self.period = period
        self._cache: dict[Key, Token] = {}
        self._locks: dict[Key, asyncio.Lock] = {}

    # ------------------------------------------------------------------ the cache

    async def get(self, pod: Obj, source: Obj) -> str:
        """The token for the projected `source` of `pod`: the cached one while fresh, else a new one."""
        key, body = token_request(pod, source)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # a pod's volumes may be set up twice at once (a sync and a refresh): one request
            cached = self._cache.get(key)
            if cached is not None and not self.requires_refresh(cached):
                return cached.token
            try:
                answer = await self.request(key.namespace, key.service_account, body)
                fresh = _parse(answer, key.expiration_seconds)
            except (errors.ApiError, ValueError, KeyError, TypeError) as exc:
                if cached is None:
                    raise TokenError(f"failed to fetch token: {exc}") from exc
                if self.expired(cached):
                    raise TokenError(f"token {key} expired and refresh failed: {exc}") from exc
                log.error("couldn't update token %s: %s", key, exc)
                return cached.token
            self._cache[key] = fresh
            return fresh.token

    def requires_refresh(self, token: Token) -> bool:
        """Older than 24 h, or within 20 % of its lifetime (plus a jitter) of its expiry."""
        now = self.clock()
        jitter = int(self.jitter() * MAX_JITTER)  # whole seconds, as Go's time.Duration(float) * time.Second
        if now > token.issued + MAX_TTL - jitter:
            return True
        return now > token.expires - token.expiration_seconds * 20 // 100 - jitter

    def expired(self, token: Token) -> bool:
        return self.clock() > token.expires

    def forget_pod(self, uid: str) -> None:
        """The pod is gone: its tokens are forgotten (DeleteServiceAccountToken)."""
        for key in [k for k in self._cache if k.pod_uid == uid]:
            del self._cache[key]
        for key in [k for k in self._locks if k.pod_uid == uid and not self._locks[k].locked()]:
            del self._locks[key]

    def cleanup(self) -> None:
        """Drop expired tokens (a pod the kubelet no longer syncs)."""
        for key in [k for k, t in self._cache.items() if self.expired(t)]:
            del self._cache[key]
            lock = self._locks.get(key)
            if lock is not None and not lock.locked():
                del self._locks[key]

    def due(self) -> list[str]:
        """`namespace/name` of each pod with a token that needs a refresh now."""
        return sorted({f"{k.namespace}/{k.pod_name}" for k, t in self._cache.items() if self.requires_refresh(t)})

    def __len__(self) -> int:
        return len(self._cache)

    # ------------------------------------------------------------------ the loop

    async def run(self) -> None:
        last_gc = self.clock()
        while True:
            if self.clock() - last_gc >= GC_PERIOD:
                self.cleanup()
                last_gc = self.clock()
            if self.on_due is not None:
                for pod_key in self.due():
                    self.on_due(pod_key)
            await asyncio.sleep(self.period)


def _parse(answer: Obj, requested: int) -> Token:
    """A TokenRequest answer: its token, expiry and the lifetime it was granted."""
    status = answer.get("status") or {}
    token = status["token"]
    if not isinstance(token, str) or not token:
        raise ValueError("the TokenRequest answer holds no token")
    expires = timeutil.parse(status["expirationTimestamp"]).timestamp()
    seconds = int((answer.get("spec") or {}).get("expirationSeconds") or requested)
    return Token(token, expires, seconds)
