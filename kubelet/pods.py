"""Pod workers: make the containers of every Pod bound to this node match its spec, and report status.

Level-triggered: a sync by `namespace/name` reads the Pod from the informer and the pod's containers from
the runtime (by label, so a restarted kubelet adopts what runs and never starts a duplicate), acts on the
difference, and writes status only when it changed. Syncs come from the informer, from Docker's events
(a container died), from probe results, from retry timers (back-off ends, deadlines), from the token
manager (`kubelet.tokens`: a pod's service-account token is due for a refresh) and from a periodic resync
that also refreshes API-data volumes and removes containers (and pod directories) whose pod is gone. The
work queue guarantees one sync at a time per pod.

A sync: volumes and the pod's files (`kubelet.launch`), the sandbox, then init containers one at a time
in order, then sidecars and app containers; probes (`kubelet.probes`) run in tasks of their own and
feed `ready`/`started` back into the status.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import math
import tempfile
import time
from pathlib import Path
from typing import Any

from kube import errors, timeutil
from kube.client import ApiClient
from kube.events import EventRecorder
from kube.informer import Handler, Informer, object_key
from kube.resources import PODS, SERVICEACCOUNTS, SERVICES, ResourceType
from kube.workqueue import WorkQueue
from kubelet import ephemeral, naming
from kubelet.backoff import Backoff, go_duration
from kubelet.containers import ConfigError, sandbox_config
from kubelet.launch import DnsSettings, Launcher, PodFiles, field_path
from kubelet.probes import ProbeManager, Prober
from kubelet.runtime import PAUSE_IMAGE, ContainerRuntime, ImageError, RuntimeContainer, RuntimeFailure
from kubelet.status import TERMINAL_PHASES, Waiting, build_pod_status, container_status, is_sidecar
from kubelet.tokens import TokenManager
from kubelet.volumes import VolumeError, VolumeManager

__all__ = ["PodWorkers", "should_restart"]

log = logging.getLogger("kubelet.pods")

Obj = dict[str, Any]


def should_restart(policy: str, latest: RuntimeContainer) -> bool:
    """Whether an exited container is restarted under the pod's restartPolicy."""
    if policy == "Always":
        return True
    if policy == "OnFailure":
        return latest.exit_code != 0 or latest.never_started or latest.oom_killed
    return False


def pod_ref(pod: Obj) -> str:
    """`name_namespace(uid)`, how the kubelet's messages name a pod."""
    meta = pod["metadata"]
    return f"{meta['name']}_{meta['namespace']}({meta['uid']})"


class PodWorkers:
    def __init__(
        self,
        client: ApiClient,
        runtime: ContainerRuntime,
        recorder: EventRecorder,
        *,
        node_name: str,
        node_ip: str,
        sync_interval: float = 5.0,
        backoff_initial: float = 10.0,
        backoff_max: float = 300.0,
        workers: int = 8,
        root_dir: Path | None = None,
        dns_settings: DnsSettings | None = None,
        allocatable: dict[str, str] | None = None,
    ) -> None:
        self.client = client
        self.runtime = runtime
        self.recorder = recorder
        self.node = node_name
        self.node_ip = node_ip
        self.sync_interval = sync_interval
        self.workers = workers
        self.informer = Informer(client, PODS, field_selector=f"spec.nodeName={node_name}")
        self.services = Informer(client, SERVICES)
        self.queue = WorkQueue(base_delay=0.5, max_delay=30.0)
        self.crash_backoff = Backoff(backoff_initial, backoff_max)
        self.pull_backoff = Backoff(backoff_initial, backoff_max)
        root = root_dir or Path(tempfile.mkdtemp(prefix=f"kubelet-{node_name}-"))
        self.tokens = TokenManager(self._request_token, on_due=self.queue.add)
        self.volumes = VolumeManager(root, self._fetch, self.tokens)
        self.prober = Prober(runtime)
        self.probes = ProbeManager(self.prober, self.queue.add, self._probe_failed, self._record)
        self.launcher = Launcher(runtime, self.volumes, self.prober, self._fetch, self.services.list, self._record,
                                 node_ip=node_ip, dns_settings=dns_settings, allocatable=allocatable)
        self._uids: dict[str, str] = {}  # pod key -> uid last seen, to clean up after a deletion
        self._written: dict[str, Obj] = {}  # pod uid -> the status we last wrote
        self._reported: dict[str, str] = {}  # "uid/container/reason" -> token, so events are not repeated
        self._image_refs: dict[str, str] = {}  # image id -> imageID for container statuses
        self._pull_failed_at: dict[str, tuple[float, str]] = {}  # image -> (monotonic time, error) of a failed pull
        self._last_pull_failure: dict[str, float] = {}  # "uid/container" -> wall time of its last failed pull
        self._terminating: dict[str, asyncio.Task[None]] = {}  # pod uid -> its termination
        self._killing: set[str] = set()  # container ids being killed after a failed liveness/startup probe
        self._api_cache: dict[tuple[str, str, str], tuple[float, Obj | None]] = {}
        self._wakeups: dict[str, float] = {}  # pod key -> monotonic time of its earliest pending timed sync
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.informer.add_handler(Handler(self._enqueue, lambda _old, new: self._enqueue(new), self._enqueue))

    # ------------------------------------------------------------------ wiring

    def _enqueue(self, pod: Obj) -> None:
        self.queue.add(object_key(pod))

    def on_runtime_event(self, action: str, labels: dict[str, str]) -> None:
        """Called from the Docker event thread: sync the pod whose container started or died."""
        ns, name = labels.get(naming.POD_NAMESPACE), labels.get(naming.POD_NAME)
        if ns and name and self._loop is not None:
            self._loop.call_soon_threadsafe(self.queue.add, f"{ns}/{name}")

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.informer.run(), name="pods-informer")
                tg.create_task(self.services.run(), name="services-informer")
                await self.informer.synced.wait()
                try:  # service variables need the Services; a slow list must not hold every pod back for long
                    await asyncio.wait_for(self.services.synced.wait(), 10)
                except TimeoutError:
                    log.warning("services not listed yet; pods start without service environment variables")
                log.info("pod cache synced: %d pods bound to %s", len(self.informer.keys()), self.node)
                self.runtime.watch_events(self.node, self.on_runtime_event)
                for i in range(self.workers):
                    tg.create_task(self._worker(), name=f"pod-worker-{i}")
                tg.create_task(self._housekeeping(), name="pod-housekeeping")
                tg.create_task(self.tokens.run(), name="token-refresh")
        finally:
            await self.probes.stop()
            await self.prober.close()

    async def _worker(self) -> None:
        while True:
            key = await self.queue.get()
            try:
                await self.sync(key)
                self.queue.forget(key)
            except (errors.ApiError, RuntimeFailure) as exc:
                log.warning("syncing pod %s failed: %s; retrying", key, exc)
                self.queue.add_rate_limited(key)
            except Exception:
                log.exception("syncing pod %s crashed; retrying", key)
                self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)

    async def _housekeeping(self) -> None:
        """Resync every pod and remove what belongs to pods that are gone, every `sync_interval`."""
        while True:
            try:
                await self.remove_orphans()
            except Exception:
                log.exception("removing orphaned containers failed")
            for pod in self.informer.list():
                self.queue.add(object_key(pod))
            self.crash_backoff.gc()
            self.pull_backoff.gc()
            now = time.monotonic()
            for key in [k for k, (t, _) in self._api_cache.items() if now - t > 60]:
                del self._api_cache[key]
            for key in [k for k, due in self._wakeups.items() if due < now]:
                del self._wakeups[key]
            await asyncio.sleep(self.sync_interval)

    async def remove_orphans(self) -> None:
        """Remove the containers (and pod directories) whose pod is no longer bound here."""
        dirs = self.volumes.known_uids()
        containers = await self.runtime.list_containers(self.node, inspect=False)
        live = {(p["metadata"].get("uid")) for p in self.informer.list()}
        orphans = [c for c in containers if c.pod_uid not in live]
        for uid in {c.pod_uid for c in orphans}:
            c = next(c for c in orphans if c.pod_uid == uid)
            log.info("removing containers of pod %s/%s (uid %s): it no longer exists", c.pod_namespace,
                     c.pod_name, uid)
            self._forget(uid)
        await asyncio.gather(*(self.runtime.remove(c.id, force=True) for c in orphans))
        for uid in dirs:
            if uid not in live and uid not in self._terminating:
                await asyncio.to_thread(self.volumes.cleanup, uid)

    def _forget(self, uid: str) -> None:
        self.crash_backoff.forget_prefix(uid + "/")
        self.pull_backoff.forget_prefix(uid + "/")
        self._written.pop(uid, None)
        self.probes.remove_pod(uid)
        self.tokens.forget_pod(uid)
        for table in (self._last_pull_failure, self._reported):
            for key in [k for k in table if k.startswith(uid + "/")]:
                del table[key]

    def _wake(self, key: str, delay: float) -> None:
        """Sync `key` after `delay` seconds, unless a timed sync at least as early is pending already: a
        back-off or deadline seen at every resync must not pile up timers."""
        due = time.monotonic() + delay
        pending = self._wakeups.get(key)
        now = time.monotonic()
        if pending is not None and now < pending <= due + 0.01:
            return
        self._wakeups[key] = due
        self.queue.add_after(key, delay)

    async def _fetch(self, rt: ResourceType, namespace: str, name: str) -> Obj | None:
        """A ConfigMap, Secret, claim or volume for a pod, None if it does not exist. Answers are kept for a
        second (at most a sync period), so pods reading the same object share one request per round."""
        key = (rt.plural, namespace, name)
        hit = self._api_cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < min(1.0, self.sync_interval):
            return hit[1]
        try:
            obj: Obj | None = await self.client.get(rt, name, namespace or None)
        except errors.NotFound:
            obj = None
        self._api_cache[key] = (time.monotonic(), obj)
        return obj

    async def _request_token(self, namespace: str, service_account: str, request: Obj) -> Obj:
        """POST a TokenRequest for a pod's service account (the Node authorizer allows it for our pods)."""
        path = SERVICEACCOUNTS.object_path(service_account, namespace, "token")
        return await self.client.request_object("POST", path, body=request)

    # ------------------------------------------------------------------ one pod

    async def sync(self, key: str) -> None:
        cached = self.informer.get(key)
        if cached is None:
            uid = self._uids.pop(key, None)
            if uid:
                containers = await self.runtime.list_containers(self.node, uid)
                await asyncio.gather(*(self.runtime.remove(c.id, force=True) for c in containers))
                self._forget(uid)
                await asyncio.to_thread(self.volumes.cleanup, uid)
            return
        pod = copy.deepcopy(cached)
        uid = pod["metadata"]["uid"]
        previous_uid = self._uids.get(key)
        self._uids[key] = uid
        if previous_uid and previous_uid != uid:  # same name, new pod: the old one's containers go
            for c in await self.runtime.list_containers(self.node, previous_uid):
                await self.runtime.remove(c.id, force=True)
            self._forget(previous_uid)
            await asyncio.to_thread(self.volumes.cleanup, previous_uid)
        if pod["metadata"].get("deletionTimestamp"):
            self._start_termination(pod)
            return
        await self.sync_pod(pod)

    def _start_termination(self, pod: Obj) -> None:
        """Terminate in a task of its own: a long grace period must not hold a worker that other pods need."""
        uid = pod["metadata"]["uid"]
        if uid in self._terminating:
            return
        task = asyncio.get_running_loop().create_task(self.terminate(pod), name=f"terminate-{uid}")
        self._terminating[uid] = task

        def finished(t: asyncio.Task[None]) -> None:
            self._terminating.pop(uid, None)
            if not t.cancelled() and t.exception() is not None:
                log.warning("terminating pod %s failed: %s; retrying", object_key(pod), t.exception())
                self.queue.add_after(object_key(pod), 1.0)

        task.add_done_callback(finished)

    async def sync_pod(self, pod: Obj) -> None:
        uid = pod["metadata"]["uid"]
        containers = await self.runtime.list_containers(self.node, uid)
        known = {**(pod.get("status") or {}), **(self._written.get(uid) or {})}
        if known.get("phase") in TERMINAL_PHASES:
            self.probes.remove_pod(uid)
            await self._stop_all(pod, containers, include_sandbox=True)
            return
        if self._deadline_left(pod, known) <= 0:
            await self._deadline_exceeded(pod, containers)
            return
        waiting: dict[str, Waiting] = {}
        changed, initialized = await self._reconcile(pod, containers, waiting)
        if changed:
            containers = await self.runtime.list_containers(self.node, uid)
        elif pod["spec"].get("volumes") and any(c.running for c in containers if not c.sandbox):
            try:  # updated ConfigMaps, Secrets, labels and refreshed tokens reach the files within a sync period
                await self.volumes.setup(pod)
            except VolumeError as exc:
                log.warning("refreshing volumes of pod %s: %s", object_key(pod), exc)
                self._report_once(pod, f"{uid}/FailedMount", str(exc), "Warning", "FailedMount", str(exc))
        sandbox = _running_sandbox(containers)
        history = _histories([c for c in containers if not c.sandbox])
        spec = pod["spec"]
        running = [(c, history[c["name"]][0]) for c in [*spec.get("initContainers", []), *spec.get("containers", [])]
                   if history.get(c["name"]) and history[c["name"]][0].running
                   and history[c["name"]][0].id not in self._killing]
        self.probes.update(pod, running, self._pod_ip(pod, sandbox), object_key(pod))
        await self._write_status(pod, containers, waiting, initialized=initialized)

    # ------------------------------------------------------------------ deadlines

    def _deadline_left(self, pod: Obj, status: Obj) -> float:
        """Seconds left of activeDeadlineSeconds (inf without one); a sync is queued for when it runs out."""
        deadline = pod["spec"].get("activeDeadlineSeconds")
        started = status.get("startTime")
        if deadline is None or not started:
            return math.inf
        left = timeutil.parse(started).timestamp() + int(deadline) - time.time()
        if left > 0:
            self._wake(object_key(pod), left + 0.05)
        return left

    async def _deadline_exceeded(self, pod: Obj, containers: list[RuntimeContainer]) -> None:
        message = "Pod was active on the node longer than the specified deadline"
        self._report_once(pod, f"{pod['metadata']['uid']}/DeadlineExceeded", "1", "Normal", "DeadlineExceeded",
                          message)
        self.probes.remove_pod(pod["metadata"]["uid"])
        await self._stop_all(pod, containers, include_sandbox=True)
        stopped = await self.runtime.list_containers(self.node, pod["metadata"]["uid"])
        await self._write_status(pod, stopped, {}, failure=("DeadlineExceeded", message))

    # ------------------------------------------------------------------ deciding

    async def _reconcile(
        self, pod: Obj, containers: list[RuntimeContainer], waiting: dict[str, Waiting]
    ) -> tuple[bool, bool]:
        """Start what should run; (whether anything in the runtime changed, whether the pod is initialized)."""
        spec = pod["spec"]
        policy = spec.get("restartPolicy") or "Always"
        sandboxes = sorted((c for c in containers if c.sandbox), key=lambda c: c.attempt, reverse=True)
        apps = [c for c in containers if not c.sandbox]
        sandbox = next((s for s in sandboxes if s.running), None)
        existing_sandbox = sandbox
        changed = False

        if sandbox is None and sandboxes:
            # The pod's network namespace is gone: what still runs is cut off, so it is stopped and
            # restarted (per restartPolicy) in a new sandbox.
            running = [c for c in apps if c.running]
            if running:
                self._record(pod, "Normal", "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.")
                await self._stop(pod, running, self._grace(pod))
                apps = await self._relist_apps(pod)
                changed = True

        # A container whose spec changed (pods may change their images) is restarted, whatever the policy.
        current = _histories(apps)
        outdated: list[RuntimeContainer] = []
        for c in [*spec.get("initContainers", []), *spec.get("containers", [])]:
            latest = (current.get(c["name"]) or [None])[0]
            if latest and latest.running and latest.labels.get(naming.HASH, "") not in ("", naming.spec_hash(c)):
                outdated.append(latest)
                self._record(pod, "Normal", "Killing", f"Container {c['name']} definition changed, will be restarted",
                             c)
        if outdated:
            await asyncio.gather(*(self.launcher.stop(pod, old, self._grace(pod), "") for old in outdated))
            apps = await self._relist_apps(pod)
            changed = True
        forced = {old.name for old in outdated}

        history = _histories(apps)
        initialized, to_start = self._init_step(pod, history, policy, waiting, sandbox, forced)
        if initialized:
            for c in spec.get("initContainers") or []:
                if is_sidecar(c):
                    attempt = self._decide(pod, c, history.get(c["name"], []), "Always", waiting, c["name"] in forced)
                    if attempt is not None:
                        to_start.append((c, attempt))
            for c in spec.get("containers") or []:
                attempt = self._decide(pod, c, history.get(c["name"], []), policy, waiting, c["name"] in forced)
                if attempt is not None:
                    to_start.append((c, attempt))
        else:
            for c in spec.get("containers") or []:
                waiting.setdefault(c["name"], Waiting("PodInitializing"))

        # Ephemeral containers join a sandbox that ran before this sync (never one made now, as Kubernetes).
        debuggers = ephemeral.to_start(pod, history, waiting) if existing_sandbox is not None else []
        files: PodFiles | None = None
        if to_start or debuggers:
            try:  # volumes come before the sandbox, as on Kubernetes: a pod whose volume fails never starts
                files = await self.launcher.prepare(pod, self._pod_ip(pod, sandbox))
            except VolumeError as exc:
                for c, _attempt in [*to_start, *debuggers]:
                    waiting.setdefault(c["name"], Waiting("ContainerCreating"))
                key = f"{pod['metadata']['uid']}/FailedMount"
                if self._reported.get(key) != str(exc):
                    log.info("pod %s: %s", object_key(pod), exc)
                self._report_once(pod, key, str(exc), "Warning", "FailedMount", str(exc))
                self._wake(object_key(pod), min(self.sync_interval, 2.0))
                return changed, initialized
            if sandbox is None:
                attempt = sandboxes[0].attempt + 1 if sandboxes else 0
                sandbox = await self._create_sandbox(pod, attempt)
                files = await self.launcher.prepare(pod, self._pod_ip(pod, sandbox))  # /etc/hosts gets the IP
                changed = True
        for old in sandboxes:
            if (sandbox is None or old.id != sandbox.id) and not old.running:
                await self.runtime.remove(old.id, force=True)
                changed = True

        for c, target in debuggers:  # before the init containers, so that they can debug a stuck init
            assert sandbox is not None and files is not None
            if await self._start_container(pod, c, 0, sandbox, files, waiting, target):
                changed = True
        for c, attempt in to_start:
            assert sandbox is not None and files is not None
            if await self._start_container(pod, c, attempt, sandbox, files, waiting):
                changed = True
        changed = await self._collect_garbage(history) or changed
        return changed, initialized

    def _init_step(
        self, pod: Obj, history: dict[str, list[RuntimeContainer]], policy: str, waiting: dict[str, Waiting],
        sandbox: RuntimeContainer | None, forced: set[str],
    ) -> tuple[bool, list[tuple[Obj, int]]]:
        """(initialized, the init container to start now): init containers run one at a time, in order, each
        to success (a sidecar: until started), in the current sandbox; a failed one is retried with back-off
        unless restartPolicy is Never (then the pod fails)."""
        inits = pod["spec"].get("initContainers") or []
        if not inits:
            return True, []
        if _initialized(pod, history, sandbox, self.probes.started):
            return True, []
        for c in inits:
            instances = history.get(c["name"], [])
            latest = instances[0] if instances else None
            if latest is None or sandbox is None or not _in_sandbox(latest, sandbox):
                return False, [(c, latest.attempt + 1 if latest else 0)]
            if is_sidecar(c):
                if latest.running:
                    if self.probes.started(latest.id, c):
                        continue
                    return False, []
                attempt = self._decide(pod, c, instances, "Always", waiting, c["name"] in forced)
                return False, [(c, attempt)] if attempt is not None else []
            if latest.exited and latest.exit_code == 0 and latest.state != "created":
                continue
            if latest.exited and policy == "Never":
                return False, []
            attempt = self._decide(pod, c, instances, "Always", waiting, c["name"] in forced)
            return False, [(c, attempt)] if attempt is not None else []
        return True, []

    def _decide(
        self, pod: Obj, spec: Obj, history: list[RuntimeContainer], policy: str, waiting: dict[str, Waiting],
        forced: bool = False,
    ) -> int | None:
        """The attempt number to start now for this container, or None (running, done, or backing off)."""
        uid, name = pod["metadata"]["uid"], spec["name"]
        latest = history[0] if history else None
        if latest is None:
            return 0
        if latest.running:
            return None
        if latest.state == "created" and not latest.error:  # made by a kubelet that died before starting it
            return latest.attempt
        if forced:
            return latest.attempt + 1
        if not latest.exited or not should_restart(policy, latest):
            return None
        key = f"{uid}/{name}"
        finished = latest.finished_ts or time.time()
        remaining = self.crash_backoff.remaining(key, finished)
        if remaining > 0:
            delay = go_duration(self.crash_backoff.get(key))
            waiting[name] = Waiting(
                "CrashLoopBackOff", f"back-off {delay} restarting failed container={name} pod={pod_ref(pod)}")
            self._wake(object_key(pod), remaining + 0.05)
            self._report_once(pod, f"{key}/BackOff", latest.id, "Warning", "BackOff",
                              f"Back-off restarting failed container {name} in pod {pod_ref(pod)}", spec)
            return None
        self.crash_backoff.next(key, finished)
        return latest.attempt + 1

    async def _relist_apps(self, pod: Obj) -> list[RuntimeContainer]:
        return [c for c in await self.runtime.list_containers(self.node, pod["metadata"]["uid"]) if not c.sandbox]

    async def _collect_garbage(self, history: dict[str, list[RuntimeContainer]]) -> bool:
        """Keep each container's newest instance and its last terminated one (lastState, logs --previous)."""
        doomed: list[RuntimeContainer] = []
        for instances in history.values():
            latest, older = instances[0], instances[1:]
            keep_previous = not latest.exited
            for c in older:
                if keep_previous and c.exited:
                    keep_previous = False
                    continue
                if not c.running:
                    doomed.append(c)
        await asyncio.gather(*(self.runtime.remove(c.id, force=True) for c in doomed))
        return bool(doomed)

    def _pod_ip(self, pod: Obj, sandbox: RuntimeContainer | None) -> str:
        if pod["spec"].get("hostNetwork"):
            return self.node_ip
        return sandbox.ip if sandbox else ""

    # ------------------------------------------------------------------ starting

    async def _create_sandbox(self, pod: Obj, attempt: int) -> RuntimeContainer:
        image_ok = await self.runtime.image_ids(PAUSE_IMAGE)
        if image_ok is None:
            self._record(pod, "Warning", "FailedCreatePodSandBox",
                         f'Failed to create pod sandbox: image "{PAUSE_IMAGE}" is not present')
            raise RuntimeFailure(f"sandbox image {PAUSE_IMAGE} is missing (run deploy/images.sh)")
        labels = naming.container_labels(self.node, pod, naming.SANDBOX_NAME, attempt)
        name = naming.docker_name(pod, naming.SANDBOX_NAME, attempt)
        try:
            cid = await self.runtime.create(name, PAUSE_IMAGE, labels,
                                            **sandbox_config(pod, self.launcher.dns.cluster_domain))
            await self.runtime.start(cid)
        except RuntimeFailure as exc:
            self._record(pod, "Warning", "FailedCreatePodSandBox", f"Failed to create pod sandbox: {exc}")
            raise
        created = await self.runtime.inspect(cid)
        if created is None:
            raise RuntimeFailure(f"sandbox {name} vanished right after it started")
        log.info("pod %s/%s: sandbox %s started, IP %s", pod["metadata"]["namespace"], pod["metadata"]["name"],
                 cid[:12], created.ip or self._pod_ip(pod, created))
        return created

    async def _ensure_image(self, pod: Obj, spec: Obj, waiting: dict[str, Waiting]) -> bool:
        """Whether the container's image is usable now, pulling per imagePullPolicy; else a waiting reason."""
        uid, name, image = pod["metadata"]["uid"], spec["name"], spec["image"]
        policy = spec.get("imagePullPolicy") or "IfNotPresent"
        key = f"{uid}/{name}"
        local = await self.runtime.image_ids(image)
        present = f'Container image "{image}" already present on machine'
        if policy == "Never" or (policy == "IfNotPresent" and local):
            if local:
                self._record(pod, "Normal", "Pulled", present, spec)
                return True
            message = f'Container image "{image}" is not present with pull policy of Never'
            waiting[name] = Waiting("ErrImageNeverPull", message)
            self._report_once(pod, f"{key}/ErrImageNeverPull", image, "Warning", "ErrImageNeverPull", message, spec)
            return False
        failed_at, failure = self._pull_failed_at.get(image, (-1e9, ""))
        if local and time.monotonic() - failed_at < 30:
            # No registry answered a moment ago: do not make every start wait for another failed pull.
            self._record(
                pod, "Warning", "LocalImageUsed",
                f'Failed to pull image "{image}" ({failure}); using the image already present on machine', spec)
            return True
        remaining = self.pull_backoff.remaining(key, self._last_pull_failure.get(key, 0.0))
        if not local and remaining > 0:
            message = f'Back-off pulling image "{image}"'
            waiting[name] = Waiting("ImagePullBackOff", message)
            self._wake(object_key(pod), remaining + 0.05)
            self._report_once(pod, f"{key}/ImagePullBackOff", str(self.pull_backoff.get(key)), "Normal",
                              "BackOff", message, spec)
            return False
        self._record(pod, "Normal", "Pulling", f'Pulling image "{image}"', spec)
        try:
            await self.runtime.pull(image)
        except ImageError as exc:
            self._pull_failed_at[image] = (time.monotonic(), str(exc))
            if local:
                self._record(
                    pod, "Warning", "LocalImageUsed",
                    f'Failed to pull image "{image}" ({exc}); using the image already present on machine', spec)
                return True
            self._last_pull_failure[key] = time.time()
            self.pull_backoff.next(key, self._last_pull_failure[key])
            waiting[name] = Waiting("ErrImagePull", str(exc))
            self._wake(object_key(pod), self.pull_backoff.get(key) + 0.05)
            self._record(pod, "Warning", "Failed", f'Failed to pull image "{image}": {exc}', spec)
            self._record(pod, "Warning", "Failed", "Error: ErrImagePull", spec)
            return False
        self.pull_backoff.reset(key)
        self._record(pod, "Normal", "Pulled", f'Successfully pulled image "{image}"', spec)
        return True

    async def _start_container(
        self, pod: Obj, spec: Obj, attempt: int, sandbox: RuntimeContainer, files: PodFiles,
        waiting: dict[str, Waiting], target: RuntimeContainer | None = None,
    ) -> bool:
        """Pull if needed, create and start one container, run its postStart hook; whether a container was
        created. `target`: the running container whose PID namespace an ephemeral container joins."""
        name, uid = spec["name"], pod["metadata"]["uid"]
        if not await self._ensure_image(pod, spec, waiting):
            return False
        pod_ip = self._pod_ip(pod, sandbox)
        try:
            kwargs = await self.launcher.container_kwargs(pod, spec, attempt, sandbox, pod_ip, files)
        except ConfigError as exc:
            waiting[name] = Waiting("CreateContainerConfigError", str(exc))
            self._report_once(pod, f"{uid}/{name}/ConfigError", str(exc), "Warning", "Failed", f"Error: {exc}", spec)
            return False
        kwargs.update(ephemeral.namespaces(pod, target))
        init = any(c["name"] == name for c in pod["spec"].get("initContainers") or [])
        labels = naming.container_labels(self.node, pod, name, attempt, spec, init=init, sandbox_id=sandbox.id,
                                         ephemeral=ephemeral.is_ephemeral(pod, name))
        docker_name = naming.docker_name(pod, name, attempt)
        try:
            cid = await self.runtime.create(docker_name, spec["image"], labels, **kwargs)
        except RuntimeFailure as exc:
            waiting[name] = Waiting("CreateContainerError", str(exc))
            self._record(pod, "Warning", "Failed", f"Error: {exc}", spec)
            return False
        self._record(pod, "Normal", "Created", f"Created container {name}", spec)
        try:
            await self.runtime.start(cid)
        except RuntimeFailure as exc:
            message = str(exc)
            if (spec.get("securityContext") or {}).get("privileged"):
                message = f"privileged containers are refused by this node's container engine: {exc}"
            self._record(pod, "Warning", "Failed", f'Error: failed to start container "{name}": {message}', spec)
            return True
        log.info("pod %s/%s: started container %s (attempt %d) %s", pod["metadata"]["namespace"],
                 pod["metadata"]["name"], name, attempt, cid[:12])
        self._record(pod, "Normal", "Started", f"Started container {name}", spec)
        failure = await self.launcher.post_start(pod, spec, cid, pod_ip)
        if failure is not None:
            self._record(pod, "Warning", "FailedPostStartHook", f"PostStartHook failed: {failure}", spec)
            running = await self.runtime.inspect(cid)
            if running is not None:
                await self.launcher.stop(pod, running, self._grace(pod),
                                         f"FailedPostStartHook: container {name} will be restarted")
        return True

    # ------------------------------------------------------------------ probes

    def _probe_failed(self, pod: Obj, spec: Obj, container_id: str, kind: str, output: str) -> None:
        """A liveness or startup probe failed for good: kill the container (it restarts per policy)."""
        if container_id in self._killing:
            return
        self._killing.add(container_id)
        probe = spec.get(f"{kind}Probe") or {}
        grace = probe.get("terminationGracePeriodSeconds")
        if grace is None:
            grace = pod["spec"].get("terminationGracePeriodSeconds", 30)

        async def kill() -> None:
            try:
                rc = await self.runtime.inspect(container_id)
                if rc is not None and rc.running:
                    await self.launcher.stop(pod, rc, int(grace or 0),
                                             f"Container {spec['name']} failed {kind} probe, will be restarted")
            except RuntimeFailure as exc:
                log.warning("killing container %s after its failed %s probe: %s", container_id[:12], kind, exc)
            finally:
                self._killing.discard(container_id)
                self.queue.add(object_key(pod))

        self._spawn(kill())

    # ------------------------------------------------------------------ stopping

    def _grace(self, pod: Obj) -> int:
        """Seconds left of the pod's termination grace period (deletion's if it is being deleted)."""
        meta, spec = pod["metadata"], pod["spec"]
        if meta.get("deletionTimestamp"):
            left = (timeutil.parse(meta["deletionTimestamp"]).timestamp() - time.time())
            grace = meta.get("deletionGracePeriodSeconds")
            return max(0, min(math.ceil(left), int(grace) if grace is not None else math.ceil(left)))
        return int(spec.get("terminationGracePeriodSeconds", 30) or 0)

    async def _stop(self, pod: Obj, containers: list[RuntimeContainer], grace: int) -> None:
        await asyncio.gather(*(self.launcher.stop(pod, c, grace) for c in containers))

    async def _stop_all(self, pod: Obj, containers: list[RuntimeContainer], include_sandbox: bool) -> None:
        """App containers first, then sidecars (they serve the app until it is gone), then the sandbox."""
        sidecars = {c["name"] for c in pod["spec"].get("initContainers") or [] if is_sidecar(c)}
        running = [c for c in containers if c.running and not c.sandbox]
        apps = [c for c in running if c.name not in sidecars]
        started = time.monotonic()
        grace = self._grace(pod)
        if apps:
            await self._stop(pod, apps, grace)
        rest = [c for c in running if c.name in sidecars]
        if rest:
            await self._stop(pod, rest, max(MIN_SIDECAR_GRACE, grace - math.ceil(time.monotonic() - started)))
        if include_sandbox:
            # The sandbox holds nothing to flush: no grace period (the pause image exits on SIGTERM anyway).
            await asyncio.gather(*(self.runtime.stop(c.id, 0) for c in containers if c.sandbox and c.running))

    async def terminate(self, pod: Obj) -> None:
        """A pod being deleted: stop its containers within the grace period, remove them, confirm the deletion."""
        meta = pod["metadata"]
        uid = meta["uid"]
        self.probes.remove_pod(uid)
        containers = await self.runtime.list_containers(self.node, uid)
        await self._stop_all(pod, containers, include_sandbox=True)
        known = self._written.get(uid) or pod.get("status") or {}
        if containers or known.get("phase") not in TERMINAL_PHASES:
            # The final status (exit codes, a terminal phase) before the containers that hold it go.
            stopped = await self.runtime.list_containers(self.node, uid)
            history = _histories([c for c in stopped if not c.sandbox])
            await self._write_status(pod, stopped, {}, terminating=True,
                                     initialized=_initialized(pod, history, None, self.probes.started, final=True))
        await asyncio.gather(*(self.runtime.remove(c.id, force=True) for c in containers))
        await asyncio.to_thread(self.volumes.cleanup, uid)
        try:
            await self.client.delete(PODS, meta["name"], meta["namespace"], grace_period_seconds=0,
                                     preconditions={"uid": uid})
            log.info("pod %s/%s deleted", meta["namespace"], meta["name"])
        except (errors.NotFound, errors.Conflict):
            pass  # already gone, or a new pod with the same name
        # What we know of the pod is forgotten when the informer sees it go (finalizers may keep it a while).

    # ------------------------------------------------------------------ status

    async def _image_ref(self, image_id: str) -> str:
        if image_id not in self._image_refs:
            ids = await self.runtime.image_ids(image_id) if image_id else None
            self._image_refs[image_id] = ids[1] if ids else (f"docker://{image_id}" if image_id else "")
        return self._image_refs[image_id]

    async def _statuses(self, pod: Obj, specs: list[Obj], history: dict[str, list[RuntimeContainer]],
                        waiting: dict[str, Waiting], default: Waiting | None = None) -> list[Obj]:
        out = []
        for spec in specs:
            instances = history.get(spec["name"], [])
            ref = await self._image_ref(instances[0].image_id) if instances else ""
            messages = {c.id: await self.launcher.termination_message(pod, c) for c in instances[:2] if c.exited}
            latest = instances[0] if instances else None
            ready = started = None
            if latest is not None and latest.running:
                started = self.probes.started(latest.id, spec)
                ready = self.probes.ready(latest.id, spec) and latest.id not in self._killing
            out.append(container_status(spec, instances, waiting.get(spec["name"]) or (default if not instances
                                                                                        else None),
                                        ref, ready=ready, started=started, messages=messages))
        return out

    async def _write_status(
        self, pod: Obj, containers: list[RuntimeContainer], waiting: dict[str, Waiting], terminating: bool = False,
        initialized: bool | None = None, failure: tuple[str, str] | None = None,
    ) -> None:
        uid = pod["metadata"]["uid"]
        sandbox = _running_sandbox(containers)
        history = _histories([c for c in containers if not c.sandbox])
        spec = pod["spec"]
        if initialized is None:
            initialized = _initialized(pod, history, sandbox, self.probes.started)
        statuses = await self._statuses(pod, spec.get("containers") or [], history, waiting)
        init_statuses = await self._statuses(pod, spec.get("initContainers") or [], history, waiting,
                                             Waiting("PodInitializing"))
        for init_spec, st in zip(spec.get("initContainers") or [], init_statuses, strict=True):
            if not is_sidecar(init_spec) and (st["state"].get("terminated") or {}).get("exitCode") == 0:
                st["ready"] = True  # an init container that did its job counts as ready, as on Kubernetes
        ephemeral_statuses = [ephemeral.status(s) for s in
                              await self._statuses(pod, spec.get("ephemeralContainers") or [], history, waiting)]
        written = self._written.get(uid)
        basis = {**pod, "status": {**(pod.get("status") or {}), **written}} if written else pod
        status = build_pod_status(basis, statuses, pod_ip=self._pod_ip(pod, sandbox), host_ip=self.node_ip,
                                  sandbox_ready=sandbox is not None, now=timeutil.now(), terminating=terminating,
                                  init_statuses=init_statuses, initialized=initialized, failure=failure,
                                  ephemeral_statuses=ephemeral_statuses)
        current = pod.get("status") or {}
        if _same_status(status, current) or _same_status(status, self._written.get(uid) or {}):
            return
        meta = pod["metadata"]
        try:
            await self.client.patch(PODS, meta["name"], {"status": status}, meta["namespace"],
                                    subresource="status")
        except errors.NotFound:
            return
        self._written[uid] = status
        if status["phase"] != current.get("phase"):
            log.info("pod %s/%s is %s", meta["namespace"], meta["name"], status["phase"])

    # ------------------------------------------------------------------ events

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)  # a pending task nobody references may be garbage-collected
        task.add_done_callback(self._tasks.discard)

    def _record(self, pod: Obj, etype: str, reason: str, message: str, container: Obj | None = None) -> None:
        """Record an Event without waiting for it: a pod's start should not queue behind its own Events.
        With `container`, the Event names it (involvedObject.fieldPath)."""
        path = field_path(pod, container["name"]) if container else None
        self._spawn(self.recorder.record(pod, etype, reason, message, path))

    def _report_once(self, pod: Obj, key: str, token: str, etype: str, reason: str, message: str,
                     container: Obj | None = None) -> None:
        """Record an event once per (key, token): a back-off seen at every resync is one event, not many."""
        if self._reported.get(key) == token:
            return
        self._reported[key] = token
        self._record(pod, etype, reason, message, container)


MIN_SIDECAR_GRACE = 2


def _running_sandbox(containers: list[RuntimeContainer]) -> RuntimeContainer | None:
    return next((c for c in sorted(containers, key=lambda c: c.attempt, reverse=True) if c.sandbox and c.running),
                None)


def _in_sandbox(c: RuntimeContainer, sandbox: RuntimeContainer) -> bool:
    """Whether a container ran in this sandbox (containers of older kubelets carry no sandbox label)."""
    return c.labels.get(naming.SANDBOX_ID, sandbox.id) == sandbox.id


def _initialized(pod: Obj, history: dict[str, list[RuntimeContainer]], sandbox: RuntimeContainer | None,
                 started: Any, final: bool = False) -> bool:
    """Whether the pod's init containers are done in its current sandbox: an app container has run there,
    or every init container exited 0 there (a sidecar: started). `final` judges a stopped pod by its last
    instances, whatever sandbox they ran in."""
    spec = pod["spec"]
    inits = spec.get("initContainers") or []
    if not inits:
        return True
    if sandbox is None and not final:
        return False

    def here(c: RuntimeContainer) -> bool:
        return final or (sandbox is not None and _in_sandbox(c, sandbox))

    if any(here(c) for app in spec.get("containers") or [] for c in history.get(app["name"], [])):
        return True
    for c in inits:
        instances = history.get(c["name"], [])
        if not instances or not here(instances[0]):
            return False
        latest = instances[0]
        if is_sidecar(c):
            if not (latest.running and started(latest.id, c)) and not final:
                return False
        elif not (latest.exited and latest.exit_code == 0 and latest.state != "created"):
            return False
    return True


def _histories(apps: list[RuntimeContainer]) -> dict[str, list[RuntimeContainer]]:
    """Each container name's runtime containers, newest attempt first."""
    out: dict[str, list[RuntimeContainer]] = {}
    for c in sorted(apps, key=lambda c: (c.attempt, c.created_at or ""), reverse=True):
        out.setdefault(c.name, []).append(c)
    return out


def _same_status(new: Obj, old: Obj) -> bool:
    """Equal up to what the kubelet writes; condition times are kept by `build_pod_status` when unchanged."""
    return all(old.get(k) == v for k, v in new.items())
