"""The audit log, as kube-apiserver's `--audit-policy-file` and `--audit-log-path` (k8s.io/apiserver pkg/audit,
endpoints/filters/audit.go): one audit.k8s.io/v1 Event per request stage, as JSON lines.

A Policy's rules are tried in order and the first that matches (users, userGroups, verbs, resources with group,
resources and resourceNames, namespaces, nonResourceURLs) sets the level of the request's events:

    None             no event
    Metadata         who, what, when, the answer's status; never a body (so never a Secret's data)
    Request          and the request body (requestObject)
    RequestResponse  and the response body (responseObject)

and the stages left out (omitStages, the policy's and the rule's). The stages: RequestReceived once the user
is known, ResponseStarted when a long-running request (watch, exec, attach, port-forward, logs, proxy) starts
answering, ResponseComplete when the answer is done, Panic when the handler raised.

Kubernetes audits between authentication and authorization; kubelite's AuthFilter (apiserver.filters) does both
in one step, so AuditFilter wraps it from outside and hands it an authenticator and an authorizer that tell the
request's audit record what they decided (`recording_authenticator`, `recording_authorizer`): a failed
authentication is one ResponseStarted event with an empty user (as Kubernetes logs a 401), a refusal carries
the user and `authorization.k8s.io/decision: forbid`, an allowed request `allow` and the authorizer's reason.

The event loop only gathers: a writer thread (LogBackend) decodes the captured bodies, serializes and appends,
rotating the file by size (--audit-log-maxsize/maxbackup/maxage, as lumberjack does for Kubernetes).
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime
import json
import logging
import os
import queue
import sys
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import yaml

from apiserver.authn.user import UserInfo
from apiserver.authz.attributes import Attributes, Authorizer, Verdict
from apiserver.requestinfo import RequestInfo, request_info

__all__ = [
    "LEVELS", "STAGES", "AuditFilter", "LogBackend", "Policy", "PolicyError", "Rule", "load_policy", "parse_policy",
    "recording_authenticator", "recording_authorizer",
]

log = logging.getLogger("apiserver.audit")

API_VERSION = "audit.k8s.io/v1"
LEVELS = ("None", "Metadata", "Request", "RequestResponse")
STAGES = ("RequestReceived", "ResponseStarted", "ResponseComplete", "Panic")
DECISION = "authorization.k8s.io/decision"
REASON = "authorization.k8s.io/reason"
_LONG_RUNNING_VERBS = ("watch", "proxy")
_LONG_RUNNING_SUBRESOURCES = ("attach", "exec", "proxy", "log", "portforward")
_WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
_MAX_CAPTURE = 3 * 1024 * 1024  # bodies past this are not logged (the apiserver refuses larger requests anyway)
_QUEUE_LIMIT = 100_000  # events waiting for the writer; past it they are dropped with a warning

Scope = dict[str, Any]
Obj = dict[str, Any]


class PolicyError(ValueError):
    """An audit Policy that cannot be used; the apiserver refuses to start with it."""


# ---------------------------------------------------------------------------------------------- policy


@dataclass(frozen=True)
class GroupResources:
    group: str = ""
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    level: str
    users: tuple[str, ...] = ()
    user_groups: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ()
    resources: tuple[GroupResources, ...] = ()
    namespaces: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()
    omit_stages: tuple[str, ...] = ()
    omit_managed_fields: bool | None = None

    def matches(self, user: UserInfo | None, info: RequestInfo) -> bool:
        """Kubernetes' policy checker: every list given must match; resources and namespaces only match resource
        requests, nonResourceURLs only the others; a rule naming neither matches both."""
        if self.users and (user is None or user.name not in self.users):
            return False
        if self.user_groups and (user is None or not any(g in self.user_groups for g in user.groups)):
            return False
        if self.verbs and info.verb not in self.verbs:
            return False
        if self.namespaces or self.resources:
            return info.resource_request and self._matches_resource(info)
        if self.non_resource_urls:
            return not info.resource_request and any(_path_matches(info.path, u) for u in self.non_resource_urls)
        return True

    def _matches_resource(self, info: RequestInfo) -> bool:
        if self.namespaces and info.namespace not in self.namespaces:  # "" is the cluster-scoped ones
            return False
        if not self.resources:
            return True
        combined = f"{info.resource}/{info.subresource}" if info.subresource else info.resource
        for gr in self.resources:
            if gr.group != info.api_group:
                continue
            if not gr.resources:
                return True
            if gr.resource_names and info.name not in gr.resource_names:
                continue
            for res in gr.resources:
                if res in (combined, "*"):
                    return True
                if info.subresource and res.startswith("*/") and res[2:] == info.subresource:
                    return True
                if res.endswith("/*") and res[:-2] == info.resource:
                    return True
        return False


def _path_matches(path: str, spec: str) -> bool:
    return spec in ("*", path) or (spec.endswith("*") and path.startswith(spec.rstrip("*")))


@dataclass(frozen=True)
class PolicyDecision:
    level: str
    omit_stages: frozenset[str] = frozenset()
    omit_managed_fields: bool = False


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]
    omit_stages: tuple[str, ...] = ()
    omit_managed_fields: bool = False

    def evaluate(self, user: UserInfo | None, info: RequestInfo) -> PolicyDecision:
        """The first matching rule's level and stages to leave out; None when no rule matches."""
        for rule in self.rules:
            if rule.matches(user, info):
                managed = self.omit_managed_fields if rule.omit_managed_fields is None else rule.omit_managed_fields
                return PolicyDecision(rule.level, frozenset(self.omit_stages) | frozenset(rule.omit_stages), managed)
        return PolicyDecision("None")


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyError(f"{where}: Invalid value: a list of strings")
    return tuple(value)


def _stages(value: Any, where: str) -> tuple[str, ...]:
    stages = _strings(value, where)
    for i, stage in enumerate(stages):
        if stage not in STAGES:
            raise PolicyError(f'{where}[{i}]: Unsupported value: "{stage}": supported values: '
                              + ", ".join(f'"{s}"' for s in STAGES))
    return stages


def _rule(raw: Any, where: str) -> Rule:
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: Invalid value: a rule is an object")
    level = raw.get("level")
    if not level:
        raise PolicyError(f"{where}.level: Required value")
    if level not in LEVELS:
        raise PolicyError(f'{where}.level: Unsupported value: "{level}": supported values: '
                          + ", ".join(f'"{lv}"' for lv in LEVELS))
    resources: list[GroupResources] = []
    for i, gr in enumerate(raw.get("resources") or []):
        at = f"{where}.resources[{i}]"
        if not isinstance(gr, dict):
            raise PolicyError(f"{at}: Invalid value: a group and its resources")
        names = _strings(gr.get("resources"), f"{at}.resources")
        resource_names = _strings(gr.get("resourceNames"), f"{at}.resourceNames")
        if resource_names and any("*" in n for n in names):
            raise PolicyError(f"{at}.resourceNames: Invalid value: using resource names with a wildcard resource "
                              "is not allowed")
        resources.append(GroupResources(str(gr.get("group") or ""), names, resource_names))
    urls = _strings(raw.get("nonResourceURLs"), f"{where}.nonResourceURLs")
    namespaces = _strings(raw.get("namespaces"), f"{where}.namespaces")
    if urls and (resources or namespaces):
        raise PolicyError(f"{where}.nonResourceURLs: Invalid value: rules cannot apply to both regular resources "
                          "and non-resource URLs")
    for i, url in enumerate(urls):
        if url != "*" and not url.startswith("/"):
            raise PolicyError(f'{where}.nonResourceURLs[{i}]: Invalid value: "{url}": non-resource URL rules must '
                              'begin with a "/" character')
        if "*" in url[:-1]:
            raise PolicyError(f'{where}.nonResourceURLs[{i}]: Invalid value: "{url}": non-resource URL wildcards '
                              "are only allowed at the end")
    managed = raw.get("omitManagedFields")
    return Rule(level, _strings(raw.get("users"), f"{where}.users"),
                _strings(raw.get("userGroups"), f"{where}.userGroups"), _strings(raw.get("verbs"), f"{where}.verbs"),
                tuple(resources), namespaces, urls, _stages(raw.get("omitStages"), f"{where}.omitStages"),
                bool(managed) if managed is not None else None)


def parse_policy(doc: Any) -> Policy:
    if not isinstance(doc, dict):
        raise PolicyError("an audit Policy is a YAML or JSON object")
    if doc.get("kind") != "Policy" or doc.get("apiVersion") != API_VERSION:
        raise PolicyError(f"got unexpected config type: {doc.get('apiVersion')}, Kind={doc.get('kind')} "
                          f"(want {API_VERSION}, Kind=Policy)")
    rules = doc.get("rules")
    if not isinstance(rules, list) or not rules:
        raise PolicyError("loaded illegal policy with 0 rules")
    return Policy(tuple(_rule(r, f"rules[{i}]") for i, r in enumerate(rules)),
                  _stages(doc.get("omitStages"), "omitStages"), bool(doc.get("omitManagedFields", False)))


def load_policy(path: str | Path) -> Policy:
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"failed to read audit policy file {str(path)!r}: {exc}") from None
    return parse_policy(doc)


# ---------------------------------------------------------------------------------------------- the record


def _timestamp(when: datetime.datetime) -> str:
    """metav1.MicroTime: RFC 3339 with microseconds, in UTC."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _user(user: UserInfo) -> Obj:
    out: Obj = {"username": user.name}
    if user.uid:
        out["uid"] = user.uid
    if user.groups:
        out["groups"] = list(user.groups)
    if user.extra:
        out["extra"] = {k: list(v) for k, v in user.extra.items()}
    return out


def _headers(scope: Scope) -> dict[bytes, str]:
    return {k.lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}


def _source_ips(headers: dict[bytes, str], scope: Scope) -> list[str]:
    """X-Forwarded-For, then X-Real-Ip, then the peer, each once (Kubernetes' utilnet.SourceIPs)."""
    found = [ip.strip() for ip in headers.get(b"x-forwarded-for", "").split(",") if ip.strip()]
    if headers.get(b"x-real-ip"):
        found.append(headers[b"x-real-ip"].strip())
    client = scope.get("client")
    if client:
        found.append(str(client[0]))
    return list(dict.fromkeys(found))


def _object_ref(info: RequestInfo) -> Obj | None:
    if not info.resource_request:
        return None
    ref = {"resource": info.resource, "namespace": info.namespace, "name": info.name, "apiGroup": info.api_group,
           "apiVersion": info.api_version, "subresource": info.subresource}
    return {k: v for k, v in ref.items() if v}


_CURRENT: contextvars.ContextVar[RequestAudit] = contextvars.ContextVar("kubelite.audit")


class RequestAudit:
    """One request's audit record: what the filters decided, what was sent and answered."""

    def __init__(self, scope: Scope, policy: Policy, emit: Callable[[Obj], None]) -> None:
        self.scope = scope
        self.policy = policy
        self.emit = emit
        self.received = _now()
        headers = _headers(scope)
        self.audit_id = headers.get(b"audit-id") or str(uuid.uuid4())
        query = scope.get("query_string", b"").decode("latin-1")
        path = scope.get("raw_path", b"").decode("latin-1") or scope["path"]
        self.uri = f"{path}?{query}" if query else path
        self.info = request_info(scope.get("method", "GET"), scope["path"], dict(parse_qsl(query, True)))
        self.source_ips = _source_ips(headers, scope)
        self.user_agent = headers.get(b"user-agent", "")
        self.request_type = headers.get(b"content-type", "")
        self.user: UserInfo | None = None
        self.decision: PolicyDecision | None = None
        self.annotations: dict[str, str] = {}
        self.code = 0
        self.response_type = ""
        self.request_body: list[bytes] | None = None
        self.response_body: list[bytes] | None = None
        self.started = False
        self.long_running = self.info.verb in _LONG_RUNNING_VERBS or \
            self.info.subresource in _LONG_RUNNING_SUBRESOURCES

    @property
    def level(self) -> str:
        return self.decision.level if self.decision is not None else "None"

    # -- told by the filters

    def authenticated(self, user: UserInfo) -> None:
        self.user = user
        self.decision = self.policy.evaluate(user, self.info)
        if self.level == "None":
            return
        if self.scope.get("method") in _WRITE_METHODS:
            self.request_body = []  # for objectRef's name at every level, and requestObject from Request on
        self._emit("RequestReceived")

    def authorized(self, verdict: Verdict) -> None:
        self.annotations[DECISION] = "allow" if verdict.allowed else "forbid"
        self.annotations[REASON] = verdict.reason

    # -- the ASGI messages

    def received_chunk(self, message: Any) -> None:
        if self.request_body is not None and message.get("type") == "http.request":
            self.request_body.append(message.get("body", b""))
            if sum(map(len, self.request_body)) > _MAX_CAPTURE:
                self.request_body = None

    def sent(self, message: Any) -> None:
        kind = message.get("type")
        if kind == "http.response.start":
            self.code = int(message.get("status", 200))
            self.response_type = next((v.decode("latin-1") for k, v in message.get("headers", ())
                                       if k.lower() == b"content-type"), "")
            # Errors are small and their Status is logged at every level (even before the level is known, as
            # for a failed authentication); other bodies only at RequestResponse.
            self.response_body = [] if not self.long_running and (
                self.code >= 400 or self.level == "RequestResponse") else None
            self._started()
        elif kind == "http.response.body" and self.response_body is not None:
            self.response_body.append(message.get("body", b""))
            if sum(map(len, self.response_body)) > _MAX_CAPTURE:
                self.response_body = None
        elif kind == "websocket.accept":
            self.code = 101
            self._started()
        elif kind == "websocket.close" and not self.code:
            self.code = 403  # closed before accept: the server answers the handshake 403

    def _started(self) -> None:
        if self.long_running and not self.started:
            self.started = True
            self._emit("ResponseStarted")

    # -- the events

    def finish(self, panic: BaseException | None = None) -> None:
        if self.user is None:  # authentication failed (or never ran): Kubernetes' failed-authentication audit
            self.decision = self.policy.evaluate(None, self.info)
            if self.level != "None":
                self._emit("ResponseStarted", fallback_message=_auth_methods(self.scope))
            return
        if self.level == "None":
            return
        if panic is not None:
            self._emit("Panic", status={"metadata": {}, "status": "Failure", "message": f"APIServer panic'd: {panic}",
                                        "reason": "InternalError", "code": 500})
            return
        if not self.code:  # nothing was answered: Kubernetes fakes a success
            fake = {"metadata": {}, "status": "Success", "message": "Connection closed early", "code": 200}
            if self.long_running and not self.started:
                self._emit("ResponseStarted", status=fake)
            self._emit("ResponseComplete", status=fake)
            return
        self._emit("ResponseComplete")

    def _emit(self, stage: str, status: Obj | None = None, fallback_message: str = "") -> None:
        decision = self.decision
        if decision is None or stage in decision.omit_stages:
            return
        now = self.received if stage == "RequestReceived" else _now()
        event: Obj = {"kind": "Event", "apiVersion": API_VERSION, "level": decision.level,
                      "auditID": self.audit_id, "stage": stage, "requestURI": self.uri, "verb": self.info.verb,
                      "user": _user(self.user) if self.user is not None else {}}
        effective = self.scope.get("kubelite.user")  # apiserver.filters.USER_KEY: differs when impersonating
        if self.user is not None and isinstance(effective, UserInfo) and effective != self.user:
            event["impersonatedUser"] = _user(effective)
        event["sourceIPs"] = self.source_ips
        if self.user_agent:
            event["userAgent"] = self.user_agent
        ref = _object_ref(self.info)
        if ref is not None:
            event["objectRef"] = ref
        if status is not None:
            event["responseStatus"] = status
        elif stage != "RequestReceived":
            event["responseStatus"] = {"metadata": {}, "code": self.code}
            if fallback_message:
                event["responseStatus"]["message"] = fallback_message
        event["requestReceivedTimestamp"] = _timestamp(self.received)
        event["stageTimestamp"] = _timestamp(now)
        if self.annotations:
            event["annotations"] = dict(self.annotations)
        # Bodies travel raw: the writer thread decodes them (apply_bodies), off the event loop.
        final = stage in ("ResponseComplete", "Panic") or (stage == "ResponseStarted" and self.user is None)
        if final:
            event["_bodies"] = (
                b"".join(self.request_body) if self.request_body is not None else None, self.request_type,
                b"".join(self.response_body) if self.response_body is not None else None, self.response_type,
                decision.omit_managed_fields,
            )
        self.emit(event)


def _auth_methods(scope: Scope) -> str:
    """The attempted methods of a failed authentication, as Kubernetes words them (getAuthMethods)."""
    methods = []
    authorization = _headers(scope).get(b"authorization", "").strip()
    if authorization.lower().startswith("basic "):
        methods.append("basic")
    parts = authorization.split(" ")
    if len(parts) > 1 and parts[0].lower() == "bearer":
        methods.append("bearer")
    if dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"))).get("access_token", "").strip():
        methods.append("access_token")
    if methods:
        return "Authentication failed, attempted: " + ", ".join(methods)
    return "Authentication failed, no credentials provided"


def _decode_body(raw: bytes, content_type: str) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        pass
    if "yaml" in content_type:
        try:
            return yaml.safe_load(raw)
        except yaml.YAMLError:
            return None
    return None


def _without_managed_fields(obj: Any) -> Any:
    if isinstance(obj, dict) and isinstance(obj.get("metadata"), dict) and "managedFields" in obj["metadata"]:
        obj = {**obj, "metadata": {k: v for k, v in obj["metadata"].items() if k != "managedFields"}}
    if isinstance(obj, dict) and isinstance(obj.get("items"), list):
        obj = {**obj, "items": [_without_managed_fields(i) for i in obj["items"]]}
    return obj


def apply_bodies(event: Obj) -> Obj:
    """Fill in what the captured bodies give (objectRef's name, the Status of an error, the objects the level
    asks for); the writer thread runs this, so the event loop never parses a body for the log."""
    bodies = event.pop("_bodies", None)
    if bodies is None:
        return event
    request_raw, request_type, response_raw, response_type, omit_managed = bodies
    level = event["level"]
    request = _decode_body(request_raw, request_type) if request_raw else None
    ref = event.get("objectRef")
    if ref is not None and isinstance(request, dict) and isinstance(request.get("metadata"), dict):
        meta = request["metadata"]
        for field_name in ("namespace", "name", "uid", "resourceVersion"):
            if not ref.get(field_name) and isinstance(meta.get(field_name), str) and meta[field_name]:
                ref[field_name] = meta[field_name]
        event["objectRef"] = {k: ref[k] for k in ("resource", "namespace", "name", "uid", "apiGroup", "apiVersion",
                                                  "resourceVersion", "subresource") if ref.get(k)}
    response = _decode_body(response_raw, response_type) if response_raw and "json" in response_type else None
    if isinstance(response, dict) and response.get("kind") == "Status" and "responseStatus" in event:
        status: Obj = {"metadata": {}}
        status.update({k: response[k] for k in ("status", "message", "reason", "details") if k in response})
        status["code"] = event["responseStatus"].get("code", response.get("code"))
        event["responseStatus"] = status
    objects: Obj = {}
    if level in ("Request", "RequestResponse") and request is not None:
        objects["requestObject"] = _without_managed_fields(request) if omit_managed else request
    if level == "RequestResponse" and response is not None:
        objects["responseObject"] = _without_managed_fields(response) if omit_managed else response
    if objects:  # Kubernetes' field order: after responseStatus, before the timestamps
        tail: Obj = {k: event.pop(k) for k in ("requestReceivedTimestamp", "stageTimestamp", "annotations")
                     if k in event}
        event.update(objects)
        event.update(tail)
    return event


# ---------------------------------------------------------------------------------------------- the filter


class AuditFilter:
    """ASGI middleware around AuthFilter: one RequestAudit per request, its events handed to the backend."""

    def __init__(self, app: Any, policy: Policy, backend: LogBackend) -> None:
        self.app = app
        self.policy = policy
        self.backend = backend

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        record = RequestAudit(scope, self.policy, self.backend.process)
        token = _CURRENT.set(record)

        async def audited_receive() -> Any:
            message = await receive()
            record.received_chunk(message)
            return message

        async def audited_send(message: Any) -> None:
            if message.get("type") == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()),
                                                  (b"audit-id", record.audit_id.encode("latin-1"))]}
            record.sent(message)
            await send(message)

        panic: BaseException | None = None
        try:
            await self.app(scope, audited_receive, audited_send)
        except Exception as exc:
            panic = exc
            raise
        finally:
            _CURRENT.reset(token)
            try:
                record.finish(panic)
            except Exception:  # the log never breaks a request
                log.exception("audit: could not record %s", record.uri)


class _RecordingAuthenticator:
    def __init__(self, authenticator: Any) -> None:
        self._inner = authenticator

    def authenticate(self, *args: Any, **kwargs: Any) -> UserInfo:
        user: UserInfo = self._inner.authenticate(*args, **kwargs)
        record = _CURRENT.get(None)
        if record is not None and record.user is None:
            record.authenticated(user)
        return user

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _RecordingAuthorizer:
    def __init__(self, authorizer: Authorizer) -> None:
        self._inner = authorizer

    def authorize(self, attrs: Attributes) -> Verdict:
        verdict = self._inner.authorize(attrs)
        record = _CURRENT.get(None)
        if record is not None:
            record.authorized(verdict)
        return verdict

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def recording_authenticator(authenticator: Any) -> Any:
    """`authenticator` telling the request's audit record who the user is (same interface)."""
    return _RecordingAuthenticator(authenticator)


def recording_authorizer(authorizer: Authorizer) -> Authorizer:
    """`authorizer` telling the request's audit record its decision and reason."""
    return _RecordingAuthorizer(authorizer)


# ---------------------------------------------------------------------------------------------- the log backend


@dataclass
class LogBackend:
    """JSON lines appended by a writer thread; `path` "-" is standard output. Rotated when a write would pass
    `max_size_mb` (0: 100, lumberjack's default), keeping `max_backups` old files (0: all) of at most
    `max_age_days` (0: any age), each named `NAME-<UTC time>.EXT` as lumberjack names them."""

    path: str
    max_size_mb: int = 0
    max_backups: int = 0
    max_age_days: int = 0
    _queue: queue.SimpleQueue[Obj | None] = field(init=False, default_factory=queue.SimpleQueue)
    _thread: threading.Thread | None = field(init=False, default=None)
    _file: Any = field(init=False, default=None)
    _size: int = field(init=False, default=0)
    _dropped: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if self.path != "-":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600)  # as kube-apiserver creates it
            os.close(fd)
        self._thread = threading.Thread(target=self._run, name="audit-log", daemon=True)
        self._thread.start()

    def process(self, event: Obj) -> None:
        if self._queue.qsize() >= _QUEUE_LIMIT:
            self._dropped += 1
            if self._dropped % 1000 == 1:
                log.warning("audit: the log writer is behind; %d events dropped", self._dropped)
            return
        self._queue.put(event)

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then stop."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(timeout)
        self._thread = None

    async def aclose(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.close)

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < 512:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            done = None in batch
            lines = []
            for event in batch:
                if event is None:
                    continue
                try:
                    lines.append(json.dumps(apply_bodies(event), separators=(",", ":")) + "\n")
                except Exception:
                    log.exception("audit: an event could not be serialized")
            try:
                self._write("".join(lines).encode())
            except OSError as exc:
                log.error("audit: cannot write %s: %s", self.path, exc)
            if done:
                self._close_file()
                return

    def _write(self, data: bytes) -> None:
        if not data:
            return
        if self.path == "-":
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
            return
        limit = (self.max_size_mb or 100) * 1024 * 1024
        if self._file is None:
            self._file = open(self.path, "ab")  # noqa: SIM115 - kept open across batches
            self._size = os.fstat(self._file.fileno()).st_size
        if self._size and self._size + len(data) > limit:
            self._rotate()
        self._file.write(data)
        self._file.flush()
        self._size += len(data)

    def _rotate(self) -> None:
        self._close_file()
        path = Path(self.path)
        stamp = _now().strftime("%Y-%m-%dT%H-%M-%S.%f")[:-3]
        os.replace(path, path.with_name(f"{path.stem}-{stamp}{path.suffix}"))
        self._prune(path)
        fd = os.open(self.path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600)
        self._file = os.fdopen(fd, "ab")
        self._size = 0

    def _prune(self, path: Path) -> None:
        backups = sorted(_backups(path), reverse=True)  # newest first: the names sort by time
        cutoff = _now().timestamp() - self.max_age_days * 86400
        for i, old in enumerate(backups):
            too_many = self.max_backups and i >= self.max_backups
            too_old = self.max_age_days and old.stat().st_mtime < cutoff
            if too_many or too_old:
                old.unlink(missing_ok=True)

    def _close_file(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _backups(path: Path) -> Iterable[Path]:
    prefix = f"{path.stem}-"
    for candidate in path.parent.iterdir():
        if candidate.name.startswith(prefix) and candidate.name.endswith(path.suffix) and candidate != path:
            yield candidate
