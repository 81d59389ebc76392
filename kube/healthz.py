"""Named health checks answered the way Kubernetes answers `/livez`, `/readyz` and `/healthz`.

A copy of k8s.io/apiserver `pkg/server/healthz` in small, so that probes, dashboards and people reading
`curl /readyz?verbose` find what they know from Kubernetes:

* every check passes: `200 ok` (with `?verbose`: one `[+]name ok` line per check, then `readyz check passed`);
* one fails: `500`, every check listed, the failed ones as `[-]name failed: reason withheld` (the reason goes to the
  log, not to anonymous callers), then `readyz check failed`;
* `?exclude=name` (repeatable) skips a check (`[+]name excluded: ok`); an unknown name earns a `warn:` line;
* `/readyz/<name>` answers that one check: `ok`, or `500 internal server error: <reason>`.

The apiserver renders through `answer` from its FastAPI routes; `serve` is a small asyncio HTTP endpoint for the
daemons without a web framework (scheduler, controller-manager). Checks are plain callables returning None when
healthy or the reason when not (a raised exception counts as its message), sync or async.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["LOG", "PING", "Answer", "NamedCheck", "Shutdown", "answer", "check_ok", "serve"]

log = logging.getLogger("kube.healthz")

CheckResult = str | None
CheckFunction = Callable[[], Awaitable[CheckResult] | CheckResult]

HEADERS = {"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"}


@dataclass(frozen=True)
class NamedCheck:
    """One named check; `check()` returns None when healthy, else why not."""

    name: str
    check: CheckFunction


@dataclass(frozen=True)
class Answer:
    status: int
    body: str


def _always_ok() -> CheckResult:
    return None


PING = NamedCheck("ping", _always_ok)
#: Kubernetes' `log` check fails when klog's flush is blocked; Python's logging writes synchronously (a blocked
#: stderr blocks the daemon itself, which livez then cannot answer), so there is nothing separate to watch.
LOG = NamedCheck("log", _always_ok)


class Shutdown:
    """The readyz `shutdown` check: fails once the daemon has begun to stop, so balancers drain it first."""

    def __init__(self) -> None:
        self.stopping = False

    def check(self) -> CheckResult:
        return "process is shutting down" if self.stopping else None

    @property
    def named(self) -> NamedCheck:
        return NamedCheck("shutdown", self.check)


async def check_ok(check: NamedCheck) -> CheckResult:
    """Run one check; an exception is a failure with its message."""
    try:
        result = check.check()
        if inspect.isawaitable(result):
            result = await result
        return result
    except Exception as exc:
        return str(exc) or type(exc).__name__


_last_failing: dict[str, str] = {}


async def answer(endpoint: str, checks: Sequence[NamedCheck], subpath: str,
                 query: Mapping[str, Sequence[str]]) -> Answer | None:
    """The answer of `/{endpoint}{subpath}` (subpath "" or "/" for all checks, "/name" for one); None: no such check."""
    name = subpath.strip("/")
    if name:
        for check in checks:
            if check.name == name:
                reason = await check_ok(check)
                return Answer(200, "ok") if reason is None else Answer(500, f"internal server error: {reason}\n")
        return None
    excluded = set(query.get("exclude", ()))
    unknown = set(excluded)
    lines: list[str] = []
    failed: list[str] = []
    for check in checks:
        if check.name in excluded:
            unknown.discard(check.name)
            lines.append(f"[+]{check.name} excluded: ok")
            continue
        reason = await check_ok(check)
        if reason is None:
            lines.append(f"[+]{check.name} ok")
        else:
            lines.append(f"[-]{check.name} failed: reason withheld")
            failed.append(f"[-]{check.name} failed: {reason}")
    if unknown:
        quoted = ",".join(f'"{n}"' for n in sorted(unknown))
        lines.append(f"warn: some health checks cannot be excluded: no matches for {quoted}")
    failing = ",".join(sorted(f.split(" ", 1)[0] for f in failed))
    if not excluded and failing != _last_failing.get(endpoint, ""):  # the log says what changed, not every probe of it
        _last_failing[endpoint] = failing
        log.info("%s: %s", endpoint, "; ".join(failed) if failed else "every check passes again")
    if failed:
        return Answer(500, "".join(line + "\n" for line in lines) + f"{endpoint} check failed\n")
    if "verbose" not in query:
        return Answer(200, "ok")
    return Answer(200, "".join(line + "\n" for line in lines) + f"{endpoint} check passed\n")


_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 500: "Internal Server Error"}

#: (status, body, content type) of a path that is not a health endpoint (e.g. /metrics)
Extra = Callable[[], tuple[int, str, str]]


async def serve(host: str, port: int, endpoints: Mapping[str, Sequence[NamedCheck]],
                extra: Mapping[str, Extra] | None = None, *, component: str = "daemon") -> None:
    """Serve `endpoints` ({"livez": checks, "readyz": checks, "healthz": checks}) and `extra` paths until cancelled.
    One request per connection, plain HTTP: it is polled by probes and people, never by the cluster's hot path."""
    extras = dict(extra or {})

    async def respond(method: str, target: str) -> tuple[int, str, str]:
        url = urlsplit(target)
        path = unquote(url.path)
        if path in extras:
            return extras[path]()
        top, _, rest = path.lstrip("/").partition("/")
        if top in endpoints:
            if method not in ("GET", "HEAD"):
                return 405, "method not allowed\n", HEADERS["Content-Type"]
            found = await answer(top, endpoints[top], rest, parse_qs(url.query, keep_blank_values=True))
            if found is not None:
                return found.status, found.body, HEADERS["Content-Type"]
        return 404, "404 page not found\n", HEADERS["Content-Type"]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            method, target = head.split(b" ", 2)[:2]
            status, body, ctype = await respond(method.decode(), target.decode(errors="replace"))
            data = body.encode()
            writer.write(f"HTTP/1.1 {status} {_REASONS.get(status, '')}\r\nContent-Type: {ctype}\r\n"
                         f"X-Content-Type-Options: nosniff\r\nContent-Length: {len(data)}\r\n"
                         "Connection: close\r\n\r\n".encode() + (b"" if method == b"HEAD" else data))
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    try:
        server = await asyncio.start_server(handle, host, port)
    except OSError as exc:
        log.warning("%s: cannot serve health on %s:%d: %s", component, host, port, exc)
        return
    bound = server.sockets[0].getsockname()[1] if server.sockets else port
    log.info("%s: serving /%s on %s:%d", component, ", /".join([*endpoints, *(p.lstrip("/") for p in extras)]),
             host, bound)
    async with server:
        await server.serve_forever()
