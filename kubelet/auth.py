"""Who may use the kubelet's API (logs, exec, attach, port-forward), decided as Kubernetes' kubelet decides it.

Authentication (`--client-ca-file`): the kubelet serves HTTPS and asks for a client certificate signed by that
CA; its subject is the user (CN) and groups (O), as the apiserver reads certificates. The apiserver presents
its --kubelet-client-certificate. Authorization (`--authorization-mode Webhook`): the kubelet asks the
apiserver with a SubjectAccessReview whether the user may `get`/`create`... the `nodes/proxy` subresource of
this node (`nodes/log` for /logs), and remembers the answer (allowed 5 minutes, refused 30 seconds, as the
kubelet's webhook cache does). Without --client-ca-file the kubelet serves plain HTTP, guarded by the shared
--kubelet-token-file if given (the older arrangement, kept for one-machine clusters).
"""

from __future__ import annotations

import hmac
import logging
import ssl
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from kube import errors, pki
from kube.client import ApiClient
from kube.client.reviews import subject_may

__all__ = ["KubeletAuth", "PeerTrackingProtocol", "serving_context"]

log = logging.getLogger("kubelet.auth")

AUTHORIZED_TTL, UNAUTHORIZED_TTL = 300.0, 30.0
_VERBS = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...]


#: the verified client certificate's user of each open connection, by client address (the ASGI scope has no TLS)
_PEERS: dict[tuple[str, int], tuple[User, weakref.ReferenceType[Any]]] = {}


class PeerTrackingProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, remembering who the TLS client certificate names (the WebSocket protocol an
    upgrade switches to keeps the connection, so the entry stays valid until the transport closes)."""

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(transport)
        cert = transport.get_extra_info("peercert")
        if not cert or not self.client:
            return
        fields = [pair for rdn in cert.get("subject", ()) for pair in rdn]
        names = [v for k, v in fields if k == "commonName"]
        user = User(names[0] if names else "", tuple(v for k, v in fields if k == "organizationName"))
        if len(_PEERS) > 256:  # forget closed connections (upgraded ones never report connection_lost here)
            for key in [k for k, (_, ref) in _PEERS.items() if (t := ref()) is None or t.is_closing()]:
                del _PEERS[key]
        _PEERS[(str(self.client[0]), int(self.client[1]))] = (user, weakref.ref(transport))


def peer_of(client: Any) -> User | None:
    if not client:
        return None
    found = _PEERS.get((str(client[0]), int(client[1])))
    if found is None:
        return None
    user, ref = found
    transport = ref()
    return user if transport is not None and not transport.is_closing() else None


def serving_context(client_ca: Path, cert_file: Path | None, key_file: Path | None, cert_dir: Path,
                    node_name: str, node_ip: str) -> ssl.SSLContext:
    """HTTPS with the given serving pair, else a self-signed one kept in `cert_dir` (as the kubelet makes
    kubelet.crt/kubelet.key when it is given none); client certificates verified against `client_ca`."""
    if cert_file is None or key_file is None:
        cert_file, key_file = cert_dir / "kubelet.crt", cert_dir / "kubelet.key"
        if not (cert_file.exists() and key_file.exists()):
            ca = pki.CertificateAuthority.create(f"{node_name}-ca@{int(time.time())}")
            issued = ca.issue(node_name, client=False, server=True, dns_names=[node_name], ip_addresses=[node_ip])
            pki.Issued(issued.cert_pem + ca.cert_pem, issued.key_pem).write(cert_file, key_file)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert_file), str(key_file))
    context.load_verify_locations(str(client_ca))
    context.verify_mode = ssl.CERT_OPTIONAL  # none: a 401 from the app; a foreign one: refused in the handshake
    return context


class KubeletAuth:
    def __init__(self, node_name: str, *, token: str | None = None, client: ApiClient | None = None,
                 mode: str = "AlwaysAllow") -> None:
        self.node_name = node_name
        self.token = token
        self.client = client
        self.mode = mode
        self._decisions: dict[tuple[str, tuple[str, ...], str, str], tuple[bool, float]] = {}

    async def refusal(self, scope: Any, method: str, path: str, authorization: str) -> tuple[int, str] | None:
        """(HTTP status, message) when the request may not proceed; None when it may."""
        if self.token and hmac.compare_digest(authorization.encode(), f"Bearer {self.token}".encode()):
            return None
        user = peer_of(scope.get("client"))
        if user is None:
            if self.token or self.mode == "Webhook":
                return 401, "Unauthorized"
            return None  # nothing configured: open, as a kubelet with --anonymous-auth and AlwaysAllow
        if self.mode != "Webhook":
            return None
        verb, subresource = _VERBS.get(method, "get"), "log" if path.startswith("/logs") else "proxy"
        if await self._allowed(user, verb, subresource):
            return None
        return 403, (f"Forbidden (user={user.name}, verb={verb}, resource=nodes, subresource={subresource})")

    async def _allowed(self, user: User, verb: str, subresource: str) -> bool:
        key = (user.name, user.groups, verb, subresource)
        now = time.monotonic()
        cached = self._decisions.get(key)
        if cached is not None and cached[1] > now:
            return cached[0]
        assert self.client is not None
        try:
            allowed = await subject_may(self.client, user.name, user.groups, {
                "verb": verb, "resource": "nodes", "subresource": subresource, "name": self.node_name})
        except errors.ApiError as exc:
            log.warning("cannot ask the apiserver whether %s may %s nodes/%s: %s", user.name, verb, subresource,
                        exc)
            return False
        if len(self._decisions) > 1024:
            self._decisions.clear()
        self._decisions[key] = (allowed, now + (AUTHORIZED_TTL if allowed else UNAUTHORIZED_TTL))
        return allowed
