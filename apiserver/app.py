"""The apiserver application: storage, watch caches, bootstrap, error shapes, routers.

`create_app(settings)` builds an ASGI app; `apiserver.main` serves it with uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from apiserver import admission, audit, discovery, openapi, reviews, routes, server
from apiserver.allocators import DEFAULT_NODE_PORT_RANGE, DEFAULT_SERVICE_CIDR
from apiserver.authn.bootstraptoken import NAMESPACE as NAMESPACE_SYSTEM
from apiserver.authn.bootstraptoken import BootstrapTokenAuthenticator
from apiserver.authn.chain import Authenticator, TokenAuthenticator
from apiserver.authn.serviceaccount import ObjectIndex, ServiceAccountAuthenticator, TokenIssuer
from apiserver.authz.setup import Authorization
from apiserver.compaction import DEFAULT_COMPACTION_INTERVAL, Compactor
from apiserver.dispatch import ResourceDispatch
from apiserver.encryption import EncryptionConfig
from apiserver.etcdclient import EtcdTLS
from apiserver.filters import AuthFilter
from apiserver.inflight import DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT, DEFAULT_MAX_REQUESTS_INFLIGHT, InFlightLimit
from apiserver.kubeletproxy import KubeletProxy
from apiserver.kubernetesservice import KubernetesService
from apiserver.limits import DEFAULT_MAX_REQUEST_BODY_BYTES, BodyLimitMiddleware
from apiserver.localinformer import LocalInformer
from apiserver.registry import services, storage_of
from apiserver.rest import Registry, ensure_namespaces
from apiserver.storage import EtcdStorage
from apiserver.tokenrequest import TokenRequests
from kube import errors
from kube.resources import PODS, RESOURCES, SECRETS, SERVICEACCOUNTS

__all__ = ["ServiceAccountKeys", "Settings", "create_app"]

log = logging.getLogger("apiserver")

BOOTSTRAP_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"]


SHUTDOWN_STEP_SECONDS = 2.0
AUTHORIZATION_SYNC_SECONDS = 30.0
#: the cyclic garbage collector's first threshold while serving (Python's default: 700). The watch caches and
#: indexes grow by tens of containers per write, so at 700 the collector ran every few requests and its older
#: generations walked every cached object: in-process, 1,500 creates and gets spent 1.4 s collecting at 700 and
#: 0.24 s at 20,000. Objects are freed by reference counting as before; only reference cycles wait longer.
GC_THRESHOLD = 20_000


@dataclass
class Settings:
    etcd: str = "http://127.0.0.1:2379"  # --etcd-servers: comma-separated, all http:// or all https://
    etcd_tls: EtcdTLS | None = None  # --etcd-cafile/--etcd-certfile/--etcd-keyfile
    bookmark_interval: float = 30.0
    etcd_wait_seconds: float = 60.0
    watch_cache_size: int = 10_000
    kubelet_token: str | None = None  # the shared secret kubelets accept from the apiserver
    kubelet_tls: Any = None  # ssl.SSLContext presenting --kubelet-client-certificate: kubelets are called over HTTPS
    not_ready_toleration_seconds: int = 300
    unreachable_toleration_seconds: int = 300
    service_cluster_ip_range: str = DEFAULT_SERVICE_CIDR
    service_node_port_range: str = DEFAULT_NODE_PORT_RANGE
    max_request_body_bytes: int = DEFAULT_MAX_REQUEST_BODY_BYTES  # 413 above it; 0: no limit
    etcd_compaction_interval: float = DEFAULT_COMPACTION_INTERVAL  # seconds; 0: never compact
    authenticator: Authenticator = field(default_factory=lambda: Authenticator(anonymous_paths=("*",)))
    authorization_modes: tuple[str, ...] = ("AlwaysAllow",)
    service_accounts: ServiceAccountKeys | None = None  # None: no service-account tokens issued or accepted
    bootstrap_tokens: bool = False  # --enable-bootstrap-token-auth
    advertise_address: str | None = None  # what the `kubernetes` Service's Endpoints list; None: no Service kept
    secure_port: int = 6443
    max_requests_inflight: int = DEFAULT_MAX_REQUESTS_INFLIGHT  # 0: no limit
    max_mutating_requests_inflight: int = DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT
    encryption: EncryptionConfig | None = None  # --encryption-provider-config: values encrypted in etcd
    audit_policy: audit.Policy | None = None  # --audit-policy-file; audited only with a log as well
    audit_log: audit.LogBackend | None = None  # --audit-log-path
    gc_threshold: int = GC_THRESHOLD  # the collector's first threshold while serving; 0: the interpreter's


@dataclass(frozen=True)
class ServiceAccountKeys:
    issuer: str
    public_keys: list[Any]
    private_key: Any | None = None  # None: tokens are accepted, not issued (TokenRequest is not served)
    api_audiences: list[str] = field(default_factory=list)

    @property
    def audiences(self) -> list[str]:
        return self.api_audiences or [self.issuer]


def _service_account_tokens(settings: Settings) -> tuple[list[TokenAuthenticator], ObjectIndex, TokenRequests | None]:
    """The service-account token authenticator (when keys are configured), the index of the objects tokens are
    bound to, and the TokenRequest handler (when this apiserver signs)."""
    keys, index = settings.service_accounts, ObjectIndex()
    if keys is None:
        return [], index, None
    accounts = ServiceAccountAuthenticator(keys.public_keys, [keys.issuer], keys.audiences, index)
    issuer = TokenRequests(TokenIssuer(keys.private_key, keys.issuer), keys.audiences) if keys.private_key else None
    return [accounts], index, issuer


async def _connect(storage: EtcdStorage, wait: float) -> None:
    """etcd may still be starting: keep trying for `wait` seconds."""
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        try:
            await storage.connect()
            await storage.revision()
            return
        except Exception as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"cannot reach etcd at {storage.endpoint}: {exc}") from exc
            await asyncio.sleep(0.3)


def _transformers(config: EncryptionConfig | None) -> dict[str, Any]:
    """{etcd resource: value transformer} for the served resource types the encryption config names."""
    if config is None:
        return {}
    stored = {storage_of(rt) for rt in RESOURCES}
    transformers = config.transformers((rt.group, rt.plural) for rt in sorted(stored, key=lambda r: r.plural))
    log.info("encryption at rest for %s", ", ".join(sorted(transformers)) or "no served resource")
    return transformers


def create_app(settings: Settings) -> FastAPI:
    authorization = Authorization(settings.authorization_modes)
    account_tokens, bound_objects, token_requests = _service_account_tokens(settings)
    bootstrap_tokens = BootstrapTokenAuthenticator() if settings.bootstrap_tokens else None
    authenticator = dataclasses.replace(settings.authenticator, tokens=[
        *settings.authenticator.tokens, *([bootstrap_tokens] if bootstrap_tokens else []), *account_tokens])

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.gc_threshold:
            gc.set_threshold(settings.gc_threshold, *gc.get_threshold()[1:])
        services.configure(settings.service_cluster_ip_range, settings.service_node_port_range)
        storage = EtcdStorage(settings.etcd, transformers=_transformers(settings.encryption), tls=settings.etcd_tls)
        await _connect(storage, settings.etcd_wait_seconds)
        registry = Registry(storage, list(RESOURCES), settings.watch_cache_size, admission.default_chain(
            settings.not_ready_toleration_seconds, settings.unreachable_toleration_seconds,
            mount_tokens=token_requests is not None, authorization=authorization))
        await registry.start()
        await ensure_namespaces(registry, BOOTSTRAP_NAMESPACES)
        await authorization.start(registry)
        followers: list[LocalInformer] = []
        if settings.service_accounts is not None:
            followers.append(LocalInformer(registry, [SERVICEACCOUNTS, PODS, SECRETS], bound_objects))
        if bootstrap_tokens is not None:
            followers.append(LocalInformer(registry, [SECRETS], bootstrap_tokens, namespace=NAMESPACE_SYSTEM))
        for follower in followers:
            follower.start()
        if not (await authorization.wait_synced(AUTHORIZATION_SYNC_SECONDS) and all(
                [await f.wait_synced(AUTHORIZATION_SYNC_SECONDS) for f in followers])):
            log.warning("authentication/authorization indexes not synced after %.0f s", AUTHORIZATION_SYNC_SECONDS)
        kubernetes_service = KubernetesService(registry, settings.service_cluster_ip_range,
                                               settings.advertise_address or "", settings.secure_port)
        if settings.advertise_address:
            await kubernetes_service.start()
        app.state.registry = registry
        app.state.bookmark_interval = settings.bookmark_interval
        app.state.kubelet = KubeletProxy(settings.kubelet_token, settings.kubelet_tls)
        app.state.ready = True
        repair = asyncio.create_task(services.repair_loop(storage))  # ClusterIP/NodePort records left by crashes
        compactor = Compactor(storage, settings.etcd_compaction_interval,
                              registry.forget_compacted)
        compactor.start()
        log.info("serving; etcd at %s", settings.etcd)
        try:
            yield
        finally:
            app.state.ready = False
            repair.cancel()
            # Bounded: with etcd already gone, cancelled etcd calls can take long to unwind, and a
            # SIGTERM must still end the process promptly.
            steps = (kubernetes_service.stop, compactor.stop, *(f.stop for f in followers), authorization.stop,
                     registry.stop, storage.close, app.state.kubelet.close)
            for step in steps:
                try:
                    await asyncio.wait_for(step(), SHUTDOWN_STEP_SECONDS)
                except Exception as exc:  # TimeoutError included
                    log.warning("shutdown step %s did not finish cleanly: %r", step.__qualname__, exc)
            if auditing and settings.audit_log is not None:
                await settings.audit_log.aclose()  # what is queued is written

    app = FastAPI(title="kubelite apiserver", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    # Innermost: resource requests go straight to their handler, past FastAPI's router (apiserver.dispatch).
    app.add_middleware(ResourceDispatch, fastapi_app=app)
    # Bodies are counted as they are read, so an oversized one is refused before it costs memory.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_request_body_bytes)
    # Inside authentication (it exempts system:masters), outside everything that costs more than headers.
    app.add_middleware(InFlightLimit, max_requests=settings.max_requests_inflight,
                       max_mutating=settings.max_mutating_requests_inflight)
    # Added after the body limit, so it runs before it: nobody unauthenticated or unauthorized reaches a handler
    # or reads a body.
    auditing = settings.audit_policy is not None and settings.audit_log is not None
    filter_authenticator, filter_authorizer = authenticator, authorization.authorizer
    if auditing:  # they tell the request's audit record who asked and what was decided
        filter_authenticator = audit.recording_authenticator(authenticator)
        filter_authorizer = audit.recording_authorizer(authorization.authorizer)
    app.add_middleware(AuthFilter, authenticator=filter_authenticator, authorizer=filter_authorizer,
                       peers=server.peer_of)
    if auditing:  # around AuthFilter, so the 401s and 403s it answers are audited too
        app.add_middleware(audit.AuditFilter, policy=settings.audit_policy, backend=settings.audit_log)

    @app.exception_handler(errors.ApiError)
    async def api_error(_: Request, exc: errors.ApiError) -> Response:
        return routes.json_response(exc.to_status(), exc.code)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        err = errors.error_from_status(None, exc.status_code, str(exc.detail))
        if exc.status_code == 404:
            err = errors.NotFound("the server could not find the requested resource")
        return routes.json_response(err.to_status(), exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, exc: RequestValidationError) -> Response:
        return routes.json_response(errors.BadRequest(str(exc)).to_status(), 400)

    @app.exception_handler(Exception)
    async def internal(_: Request, exc: Exception) -> Response:
        log.exception("internal error")
        return routes.json_response(errors.InternalError(f"an error on the server: {exc}").to_status(), 500)

    app.state.authorization = authorization
    app.state.authenticator = authenticator
    app.state.token_requests = token_requests
    app.include_router(reviews.router)  # fixed paths, before the resource routes' catch-all
    app.include_router(routes.router)  # resource requests are by far the most frequent
    app.include_router(discovery.router)
    app.include_router(openapi.router)
    return app
