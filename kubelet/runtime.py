"""The container runtime behind a small neutral interface: Docker through its SDK.

The pod worker (`kubelet.pods`) and status code (`kubelet.status`) see only `RuntimeContainer` records and
the `DockerRuntime` verbs; nothing else in the kubelet imports `docker`. Every SDK call blocks, so each verb
runs it in a thread (`asyncio.to_thread`) and the event loop stays free for the apiserver traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import struct
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlparse

import docker
import docker.errors
import docker.utils
import requests

from kubelet import naming

__all__ = [
    "PAUSE_IMAGE", "ContainerRuntime", "DockerRuntime", "ExecSession", "ImageError", "RuntimeContainer",
    "RuntimeFailure", "docker_epoch", "docker_time", "split_image",
]

log = logging.getLogger("kubelet.runtime")

PAUSE_IMAGE = "kubelite/pause:3.9"
_ZERO_TIME = "0001-01-01T00:00:00Z"


class RuntimeFailure(Exception):
    """A runtime verb failed (create, start, ...); the message is Docker's."""


class ImageError(RuntimeFailure):
    """An image could not be pulled."""


@dataclass
class RuntimeContainer:
    """One Docker container as the kubelet sees it: its labels decoded and its state summarised."""

    id: str
    name: str  # the pod's container name; naming.SANDBOX_NAME for the sandbox
    pod_uid: str
    pod_namespace: str
    pod_name: str
    attempt: int
    sandbox: bool
    state: str  # created | running | exited | dead | paused | restarting | removing
    exit_code: int = 0
    error: str = ""
    oom_killed: bool = False
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    finished_ts: float = 0.0  # finished_at as epoch seconds, with Docker's sub-second precision
    image: str = ""  # as the pod spec named it
    image_id: str = ""  # sha256:...
    ip: str = ""  # the sandbox's bridge IP
    ipc_mode: str = ""  # HostConfig.IpcMode: app containers join a sandbox's IPC namespace only if "shareable"
    network_mode: str = ""
    pid: int = 0  # the main process (of a sandbox: whose network namespace port-forward enters)
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return self.state in ("running", "restarting", "paused")

    @property
    def never_started(self) -> bool:
        return self.state == "created" and not self.started_at

    @property
    def exited(self) -> bool:
        """Finished, or failed to start at all (Docker leaves those in `created` with an error)."""
        return self.state in ("exited", "dead") or (self.state == "created" and bool(self.error))


class ExecSession:
    """One `docker exec` attached over a hijacked connection of its own: asyncio streams, no thread held,
    so an interactive session or a hanging probe command costs nothing but a socket.

    Without a TTY Docker multiplexes stdout and stderr in 8-byte-headed frames; `read` undoes that."""

    def __init__(self, exec_id: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tty: bool) -> None:
        self.exec_id = exec_id
        self.reader = reader
        self.writer = writer
        self.tty = tty

    async def read(self) -> tuple[int, bytes] | None:
        """(1 for stdout or 2 for stderr, data), or None at the end of the output."""
        try:
            if self.tty:
                data = await self.reader.read(32768)
                return (1, data) if data else None
            header = await self.reader.readexactly(8)
            stream, size = header[0], struct.unpack(">I", header[4:])[0]
            return (2 if stream == 2 else 1, await self.reader.readexactly(size))
        except (asyncio.IncompleteReadError, ConnectionError):
            return None

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    def close_stdin(self) -> None:
        """Half-close: the command reads EOF on its stdin, and its output still comes back."""
        with contextlib.suppress(OSError, RuntimeError):
            if self.writer.can_write_eof():
                self.writer.write_eof()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


def docker_time(text: str | None) -> str | None:
    """Docker's nanosecond timestamps as the API's RFC 3339 seconds; None for Docker's zero time."""
    if not text or text.startswith("0001-01-01"):
        return None
    return text[:19] + "Z"


def docker_epoch(text: str | None) -> float:
    """Docker's timestamp as epoch seconds (microsecond precision); 0.0 for Docker's zero time."""
    if not text or text.startswith("0001-01-01"):
        return 0.0
    head, _, frac = text.rstrip("Z").partition(".")
    stamp = datetime.fromisoformat(head[:19]).replace(tzinfo=UTC).timestamp()
    return stamp + (float("0." + frac[:6]) if frac and frac[:6].isdigit() else 0.0)


def _from_inspect(info: dict[str, Any]) -> RuntimeContainer:
    labels = info["Config"].get("Labels") or {}
    state = info.get("State") or {}
    networks = ((info.get("NetworkSettings") or {}).get("Networks")) or {}
    ip = next((n.get("IPAddress") for n in networks.values() if n.get("IPAddress")), "")
    failed = bool(state.get("Error")) and not docker_time(state.get("StartedAt"))
    try:
        attempt = int(labels.get(naming.ATTEMPT, "0"))
    except ValueError:
        attempt = 0
    return RuntimeContainer(
        id=info["Id"],
        name=labels.get(naming.CONTAINER_NAME, ""),
        pod_uid=labels.get(naming.POD_UID, ""),
        pod_namespace=labels.get(naming.POD_NAMESPACE, ""),
        pod_name=labels.get(naming.POD_NAME, ""),
        attempt=attempt,
        sandbox=labels.get(naming.CONTAINER_TYPE) == naming.TYPE_SANDBOX,
        state=state.get("Status", "unknown"),
        exit_code=int(state.get("ExitCode") or 0),
        error=state.get("Error") or "",
        oom_killed=bool(state.get("OOMKilled")),
        created_at=docker_time(info.get("Created")),
        started_at=docker_time(state.get("StartedAt")),
        # A container that failed to start has no FinishedAt: its failure time is (about) its creation.
        finished_at=docker_time(state.get("FinishedAt")) or (docker_time(info.get("Created")) if failed else None),
        finished_ts=docker_epoch(state.get("FinishedAt")) or (docker_epoch(info.get("Created")) if failed else 0.0),
        image=info["Config"].get("Image") or "",
        image_id=info.get("Image") or "",
        ip=ip,
        ipc_mode=str((info.get("HostConfig") or {}).get("IpcMode") or ""),
        network_mode=str((info.get("HostConfig") or {}).get("NetworkMode") or ""),
        pid=int(state.get("Pid") or 0),
        labels=labels,
    )


class ContainerRuntime(Protocol):
    """The verbs the pod workers need from a container runtime; `DockerRuntime` is the real one, and a
    fake can stand in for it in unit tests."""

    async def list_containers(
        self, node: str, pod_uid: str | None = None, *, inspect: bool = True
    ) -> list[RuntimeContainer]: ...
    async def inspect(self, container_id: str) -> RuntimeContainer | None: ...
    async def image_ids(self, image: str) -> tuple[str, str] | None: ...
    async def image_user(self, image: str) -> str: ...
    async def pull(self, image: str) -> None: ...
    async def create(self, name: str, image: str, labels: dict[str, str], **kwargs: Any) -> str: ...
    async def start(self, container_id: str) -> None: ...
    async def stop(self, container_id: str, timeout: int) -> None: ...
    async def remove(self, container_id: str, force: bool = True) -> None: ...
    def watch_events(self, node: str, on_event: Callable[[str, dict[str, str]], None]) -> threading.Thread: ...
    def logs(self, container_id: str, *, follow: bool = False, timestamps: bool = False, tail: int | None = None,
             since: float | None = None) -> AsyncIterator[bytes]: ...
    async def exec_start(self, container_id: str, cmd: list[str], *, stdin: bool = False, tty: bool = False
                         ) -> ExecSession: ...
    async def exec_run(self, container_id: str, cmd: list[str], timeout: float) -> tuple[int | None, bytes]: ...
    async def exec_exit_code(self, exec_id: str, wait: float = 2.0) -> int | None: ...
    async def exec_resize(self, exec_id: str, height: int, width: int) -> None: ...
    async def attach(self, container_id: str, *, stdin: bool, tty: bool) -> ExecSession: ...
    async def resize(self, container_id: str, height: int, width: int) -> None: ...


class DockerRuntime:
    """The Docker engine, reached through the low-level SDK client (one connection pool)."""

    def __init__(self, client: docker.DockerClient | None = None, *, timeout: int = 60) -> None:
        self.client = client or docker.from_env(timeout=timeout, max_pool_size=32)
        self.api = self.client.api
        self._events_stream: Any = None
        self._events_stop = threading.Event()
        # Containers Docker reported an "oom" event for. Docker may process a container's exit before its
        # OOM notification and then never set State.OOMKilled; the event still says what happened.
        self._oom_seen: set[str] = set()

    def _noting_oom(self, container: RuntimeContainer) -> RuntimeContainer:
        if container.id in self._oom_seen:
            container.oom_killed = True
        return container

    def _streaming_client(self) -> docker.APIClient:
        """A client of its own for one long stream (logs, events): no read timeout, and a socket that is
        closed with the stream instead of going back to the shared pool broken."""
        return docker.APIClient(timeout=None, version=self.api.api_version,  # type: ignore[arg-type]
                                **docker.utils.kwargs_from_env())

    # ------------------------------------------------------------------ engine

    async def version(self) -> str:
        try:
            info = await asyncio.to_thread(self.api.version)
        except (docker.errors.DockerException, requests.RequestException) as exc:
            raise RuntimeFailure(f"the Docker engine does not answer: {exc}") from exc
        return str(info.get("Version", "unknown"))

    async def root_dir(self) -> str:
        info = await asyncio.to_thread(self.api.info)
        return str(info.get("DockerRootDir") or "/var/lib/docker")

    # ------------------------------------------------------------------ listing

    async def list_containers(
        self, node: str, pod_uid: str | None = None, *, inspect: bool = True
    ) -> list[RuntimeContainer]:
        """Every container this node's kubelet made (or only one pod's). Without `inspect`, only what
        Docker's list shows (labels and state; no times, exit codes or IP): cheap enough for sweeps."""
        filters = naming.pod_filter(node, pod_uid) if pod_uid else naming.node_filter(node)
        return await asyncio.to_thread(self._list, filters, inspect)

    def _list(self, filters: dict[str, list[str]], inspect: bool) -> list[RuntimeContainer]:
        out = []
        try:
            summaries = self.api.containers(all=True, filters=filters)
        except (docker.errors.DockerException, requests.RequestException) as exc:
            raise RuntimeFailure(f"cannot list containers: {exc}") from exc
        if not inspect:
            return [_from_inspect({"Id": s["Id"], "Config": {"Labels": s.get("Labels") or {},
                                                             "Image": s.get("Image")},
                                   "State": {"Status": s.get("State", "unknown")}, "Image": s.get("ImageID")})
                    for s in summaries]
        for summary in summaries:
            try:
                out.append(self._noting_oom(_from_inspect(self.api.inspect_container(summary["Id"]))))
            except docker.errors.NotFound:
                continue  # removed between the list and the inspect
            except (docker.errors.DockerException, requests.RequestException) as exc:
                raise RuntimeFailure(f"cannot inspect container {summary['Id'][:12]}: {exc}") from exc
        return out

    async def inspect(self, container_id: str) -> RuntimeContainer | None:
        try:
            return self._noting_oom(_from_inspect(await asyncio.to_thread(self.api.inspect_container, container_id)))
        except docker.errors.NotFound:
            return None
        except (docker.errors.DockerException, requests.RequestException) as exc:
            raise RuntimeFailure(f"cannot inspect container {container_id[:12]}: {exc}") from exc

    # ------------------------------------------------------------------ images

    async def image_ids(self, image: str) -> tuple[str, str] | None:
        """(image id, the imageID a container status shows) for a local image, None when it is missing."""
        try:
            info = await asyncio.to_thread(self.api.inspect_image, image)
        except docker.errors.ImageNotFound:
            return None
        except docker.errors.APIError as exc:
            if exc.status_code == 404:
                return None
            raise RuntimeFailure(str(exc.explanation or exc)) from exc
        digests = info.get("RepoDigests") or []
        ref = f"docker-pullable://{digests[0]}" if digests else f"docker://{info['Id']}"
        return info["Id"], ref

    async def image_user(self, image: str) -> str:
        """The user an image runs as (`Config.User`), "" for root or a missing image."""
        try:
            info = await asyncio.to_thread(self.api.inspect_image, image)
        except docker.errors.APIError:
            return ""
        return str((info.get("Config") or {}).get("User") or "")

    async def pull(self, image: str) -> None:
        repo, tag = split_image(image)
        try:
            await asyncio.to_thread(self.api.pull, repo, tag=tag)
        except (docker.errors.APIError, docker.errors.DockerException) as exc:
            explanation = getattr(exc, "explanation", None) or str(exc)
            raise ImageError(str(explanation)) from exc

    # ------------------------------------------------------------------ containers

    async def create(self, name: str, image: str, labels: dict[str, str], **kwargs: Any) -> str:
        """Create (not start) a container; its id. `kwargs` are `create_container`/`create_host_config` args."""
        return await asyncio.to_thread(self._create, name, image, labels, kwargs)

    def _create(self, name: str, image: str, labels: dict[str, str], kwargs: dict[str, Any]) -> str:
        host_keys = {"network_mode", "nano_cpus", "mem_limit", "memswap_limit", "cpu_shares", "port_bindings",
                     "binds", "restart_policy", "oom_score_adj", "init", "shm_size", "dns", "extra_hosts",
                     "mounts", "cap_add", "cap_drop", "privileged", "read_only", "security_opt", "group_add",
                     "ipc_mode", "pid_mode", "sysctls", "tmpfs", "cpu_period", "cpu_quota"}
        host = {k: v for k, v in kwargs.items() if k in host_keys and v is not None}
        stdin_once = bool(kwargs.get("stdin_once"))
        config = {k: v for k, v in kwargs.items() if k not in host_keys and k != "stdin_once" and v is not None}
        config.setdefault("command", None)
        try:
            body = self.api.create_container_config(
                image, labels=labels, detach=True, host_config=self.api.create_host_config(**host), **config)
        except (docker.errors.DockerException, TypeError, ValueError) as exc:
            raise RuntimeFailure(f"invalid container configuration: {exc}") from exc
        if stdin_once:  # the SDK has no argument for it: its stdin closes when the attached client leaves
            body["StdinOnce"] = True
        try:
            created = self.api.create_container_from_config(body, name)
        except docker.errors.APIError as exc:
            if exc.status_code != 409:
                raise RuntimeFailure(str(exc.explanation or exc)) from exc
            self._remove(name, True)  # a leftover of an interrupted attempt with the same name
            try:
                created = self.api.create_container_from_config(body, name)
            except docker.errors.APIError as again:
                raise RuntimeFailure(str(again.explanation or again)) from again
        return str(created["Id"])

    async def start(self, container_id: str) -> None:
        try:
            await asyncio.to_thread(self.api.start, container_id)
        except docker.errors.APIError as exc:
            raise RuntimeFailure(str(exc.explanation or exc)) from exc

    async def stop(self, container_id: str, timeout: int) -> None:
        """SIGTERM, then SIGKILL after `timeout` seconds (Docker's stop)."""
        try:
            await asyncio.to_thread(self.api.stop, container_id, timeout=max(0, int(timeout)))
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            raise RuntimeFailure(str(exc.explanation or exc)) from exc

    async def remove(self, container_id: str, force: bool = True) -> None:
        await asyncio.to_thread(self._remove, container_id, force)

    def _remove(self, container_id: str, force: bool) -> None:
        try:
            self.api.remove_container(container_id, force=force)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            if exc.status_code == 409 and "already in progress" in str(exc.explanation or ""):
                return
            raise RuntimeFailure(str(exc.explanation or exc)) from exc

    # ------------------------------------------------------------------ logs

    async def logs(
        self,
        container_id: str,
        *,
        follow: bool = False,
        timestamps: bool = False,
        tail: int | None = None,
        since: float | None = None,
    ) -> AsyncIterator[bytes]:
        """A container's output (stdout and stderr as Docker stored them), streamed from a thread of its own
        so a long `follow` holds no pool thread; closing the iterator closes Docker's stream.

        Each stream has a connection of its own, without a read timeout (a followed log may be quiet for
        long): closing a stream closes its socket, which must never go back to a shared pool."""
        api = self._streaming_client()
        try:
            stream = await asyncio.to_thread(
                api.logs, container_id, stream=True, follow=follow, timestamps=timestamps,
                tail="all" if tail is None else tail, since=since if since and since > 0 else None,
            )
        except docker.errors.NotFound as exc:
            api.close()
            raise RuntimeFailure(f"container {container_id[:12]} not found") from exc
        except (docker.errors.DockerException, requests.RequestException) as exc:
            api.close()
            raise RuntimeFailure(f"cannot read logs of {container_id[:12]}: {exc}") from exc
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue()

        def put(item: bytes | BaseException | None) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is reading any more
                loop.call_soon_threadsafe(queue.put_nowait, item)

        def pump() -> None:
            try:
                for chunk in stream:
                    put(chunk)
            except Exception as exc:  # the stream was closed under us, or the engine went away
                put(exc)
            finally:
                put(None)

        threading.Thread(target=pump, name=f"logs-{container_id[:12]}", daemon=True).start()
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    return
                yield item
        finally:
            with contextlib.suppress(Exception):
                stream.close()
            with contextlib.suppress(Exception):
                api.close()

    # ------------------------------------------------------------------ exec

    async def _open_engine(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A raw connection to the engine (DOCKER_HOST: unix:// or tcp:// without TLS)."""
        url = urlparse(os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock")
        if url.scheme in ("unix", "http+unix", ""):
            return await asyncio.open_unix_connection(url.path or "/var/run/docker.sock", limit=2**20)
        if url.scheme in ("tcp", "http"):
            return await asyncio.open_connection(url.hostname, url.port or 2375, limit=2**20)
        raise RuntimeFailure(f"exec over DOCKER_HOST {url.geturl()!r} is not supported")

    async def exec_start(self, container_id: str, cmd: list[str], *, stdin: bool = False, tty: bool = False
                         ) -> ExecSession:
        """Create and start `cmd` in a running container, attached; the caller reads (and writes) the session
        and asks `exec_exit_code` once the output ends."""
        try:
            created = await asyncio.to_thread(self.api.exec_create, container_id, cmd, stdout=True, stderr=True,
                                              stdin=stdin, tty=tty)
        except docker.errors.NotFound as exc:
            raise RuntimeFailure(f"container {container_id[:12]} not found") from exc
        except docker.errors.APIError as exc:
            raise RuntimeFailure(str(exc.explanation or exc)) from exc
        exec_id = created["Id"]
        body = json.dumps({"Detach": False, "Tty": tty}).encode()
        reader, writer = await self._hijack(f"/exec/{exec_id}/start", body, "exec start")
        return ExecSession(exec_id, reader, writer, tty)

    async def attach(self, container_id: str, *, stdin: bool, tty: bool) -> ExecSession:
        """Attach to a running container's main process (`kubectl attach`, `kubectl run -it`); the session
        ends when the process does. Its `exec_id` is empty."""
        query = f"stream=1&stdout=1&stderr=1&stdin={int(stdin)}"
        reader, writer = await self._hijack(f"/containers/{container_id}/attach?{query}", b"", "attach")
        return ExecSession("", reader, writer, tty)

    async def _hijack(self, path: str, body: bytes, what: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """POST `path` on a connection of its own and take the connection over once the engine upgrades it
        (the raw stream follows at once, so nothing may sit in an HTTP client's read buffer)."""
        try:
            reader, writer = await self._open_engine()
        except OSError as exc:
            raise RuntimeFailure(f"cannot reach the Docker engine: {exc}") from exc
        writer.write(
            f"POST /v{self.api.api_version}{path} HTTP/1.1\r\nHost: docker\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n".encode() + body)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError) as exc:
            writer.close()
            raise RuntimeFailure(f"{what} failed: {exc}") from exc
        status_line = head.split(b"\r\n", 1)[0].decode(errors="replace")
        parts = status_line.split(" ", 2)
        code = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        if code not in (101, 200):
            detail = (await reader.read(4096)).decode(errors="replace")
            writer.close()
            with contextlib.suppress(ValueError, IndexError):
                detail = json.loads(detail[detail.index("{"):]).get("message", detail)
            raise RuntimeFailure(f"{what} failed: {detail.strip() or status_line}")
        return reader, writer

    async def exec_exit_code(self, exec_id: str, wait: float = 2.0) -> int | None:
        """The exit code of a finished exec (its output ended); None if it is still running after `wait`."""
        deadline = time.monotonic() + wait
        while True:
            try:
                info = await asyncio.to_thread(self.api.exec_inspect, exec_id)
            except docker.errors.APIError:
                return None
            if not info.get("Running"):
                code = info.get("ExitCode")
                return int(code) if code is not None else None
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(0.02)

    async def exec_resize(self, exec_id: str, height: int, width: int) -> None:
        with contextlib.suppress(docker.errors.APIError):
            await asyncio.to_thread(self.api.exec_resize, exec_id, height=height, width=width)

    async def resize(self, container_id: str, height: int, width: int) -> None:
        """The TTY size of a container's main process (attach)."""
        with contextlib.suppress(docker.errors.APIError):
            await asyncio.to_thread(self.api.resize, container_id, height=height, width=width)

    async def exec_run(self, container_id: str, cmd: list[str], timeout: float) -> tuple[int | None, bytes]:
        """Run `cmd` to completion (probes, hooks): (exit code, stdout+stderr, at most 10 KiB). TimeoutError
        after `timeout` seconds; the command itself is left to finish on its own, as Docker cannot kill it."""
        session = await self.exec_start(container_id, cmd)
        out = bytearray()
        try:
            async with asyncio.timeout(timeout):
                while (item := await session.read()) is not None:
                    if len(out) < 10240:
                        out += item[1][: 10240 - len(out)]
                return await self.exec_exit_code(session.exec_id), bytes(out)
        finally:
            session.close()

    # ------------------------------------------------------------------ events

    def watch_events(self, node: str, on_event: Callable[[str, dict[str, str]], None]) -> threading.Thread:
        """Follow Docker's container events for this node's containers in a thread, calling
        `on_event(action, labels)` from that thread; reconnects after errors until `stop_events`."""
        filters = {"type": ["container"], "event": ["start", "die", "oom", "destroy"], **naming.node_filter(node)}

        def loop() -> None:
            since: int | None = None
            while not self._events_stop.is_set():
                api = self._streaming_client()
                try:
                    self._events_stream = api.events(decode=True, filters=filters, since=since)
                    for event in self._events_stream:
                        if self._events_stop.is_set():
                            return
                        since = int(event.get("time") or 0) or since  # resume here after a reconnect
                        attrs = (event.get("Actor") or {}).get("Attributes") or {}
                        action = str(event.get("Action") or event.get("status") or "")
                        container_id = str((event.get("Actor") or {}).get("ID") or event.get("id") or "")
                        if action == "oom":
                            self._oom_seen.add(container_id)
                        elif action == "destroy":
                            self._oom_seen.discard(container_id)
                        on_event(str(event.get("Action") or event.get("status") or ""), attrs)
                except Exception as exc:  # the engine restarted, the socket closed: reconnect
                    if self._events_stop.is_set():
                        return
                    log.warning("docker event stream broke (%s); reconnecting", exc)
                    time.sleep(1.0)
                finally:
                    with contextlib.suppress(Exception):
                        api.close()

        thread = threading.Thread(target=loop, name="docker-events", daemon=True)
        thread.start()
        return thread

    def stop_events(self) -> None:
        self._events_stop.set()
        stream = self._events_stream
        if stream is not None:
            try:
                stream.close()
            except Exception:  # closing a half-read socket from another thread may complain
                log.debug("closing the docker event stream failed", exc_info=True)

    def close(self) -> None:
        self.stop_events()
        self.client.close()


def split_image(image: str) -> tuple[str, str]:
    """`repo[:tag|@digest]` -> (repo, tag or digest), with `latest` as the default tag."""
    if "@" in image:
        repo, digest = image.split("@", 1)
        return repo, digest
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = image.rsplit(":", 1)
        return repo, tag
    return image, "latest"
