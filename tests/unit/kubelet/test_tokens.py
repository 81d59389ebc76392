"""Service-account tokens on the kubelet: the TokenRequest a projected serviceAccountToken source makes, the
token manager's cache and refresh rule (80 % of the lifetime, 24 h at most, a failed refresh keeps a valid
token), its loop waking pods whose token is due, forgetting a pod's tokens; the projected volume writing the
token beside the CA and namespace and rewriting it atomically on refresh; failures as FailedMount events of
the pod. (The real path, a token from the apiserver used by kubectl inside a pod, is
tests/e2e/test_serviceaccount_tokens.py.)"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kube import errors
from kube.resources import CONFIGMAPS, ResourceType
from kubelet.tokens import Token, TokenError, TokenManager, token_request
from kubelet.volumes import VolumeError, VolumeManager
from tests.unit.kubelet.test_pod_sync import FakeClient, FakeRuntime, workers

Obj = dict[str, Any]
T0 = 1_800_000_000.0

POD: Obj = {
    "metadata": {"name": "web", "namespace": "prod", "uid": "u1"},
    "spec": {"serviceAccountName": "robot", "containers": [{"name": "c", "image": "busybox"}]},
}
API_ACCESS: Obj = {  # the volume the ServiceAccount admission plugin adds
    "name": "kube-api-access-abcde",
    "projected": {"defaultMode": 0o644, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1",
                                                                       "fieldPath": "metadata.namespace"}}]}},
    ]},
}


def stamp(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class TokenApi:
    """The TokenRequest endpoint: answers a numbered token per request, or fails while `failure` is set."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.requests: list[tuple[str, str, Obj]] = []
        self.failure: errors.ApiError | None = None

    async def __call__(self, namespace: str, account: str, request: Obj) -> Obj:
        self.requests.append((namespace, account, request))
        if self.failure is not None:
            raise self.failure
        seconds = request["spec"]["expirationSeconds"]
        return {**request, "status": {"token": f"token-{len(self.requests)}",
                                      "expirationTimestamp": stamp(self.clock.now + seconds)}}


def manager(jitter: float = 0.0) -> tuple[TokenManager, TokenApi, Clock]:
    clock = Clock()
    api = TokenApi(clock)
    return TokenManager(api, clock=clock, jitter=lambda: jitter), api, clock


# ---------------------------------------------------------------------------------------------- the request


def test_the_request_is_bound_to_the_pod_with_the_sources_audience_and_lifetime() -> None:
    key, body = token_request(POD, {"audience": "vault", "expirationSeconds": 7200, "path": "t"})
    assert body == {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {
        "audiences": ["vault"], "expirationSeconds": 7200,
        "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "web", "uid": "u1"}}}
    assert (key.namespace, key.service_account, key.audiences) == ("prod", "robot", ("vault",))
    assert str(key) == '"robot"/"prod"/[\'vault\']/7200/Pod "web" (u1)'  # what is logged: never the token


@pytest.mark.parametrize(("source", "seconds"), [
    ({"path": "token"}, 3600), ({"path": "token", "expirationSeconds": 60}, 600),
    ({"path": "token", "expirationSeconds": 3607}, 3607)], ids=["default", "at-least-600", "as-asked"])
def test_no_audience_means_the_apis_own_and_the_lifetime_is_at_least_600s(source: Obj, seconds: int) -> None:
    pod = {**POD, "spec": {"containers": []}}  # no serviceAccountName: default
    key, body = token_request(pod, source)
    assert body["spec"]["audiences"] == [] and body["spec"]["expirationSeconds"] == seconds
    assert key.service_account == "default"


# ---------------------------------------------------------------------------------------------- the cache


async def test_a_fresh_token_is_served_from_the_cache() -> None:
    tokens, api, clock = manager()
    source = {"expirationSeconds": 3600, "path": "token"}
    assert await tokens.get(POD, source) == "token-1"
    clock.now += 0.79 * 3600
    assert await tokens.get(POD, source) == "token-1"
    assert len(api.requests) == 1 and api.requests[0][:2] == ("prod", "robot")
    other = {"audience": "vault", "expirationSeconds": 3600, "path": "vault"}
    assert await tokens.get(POD, other) == "token-2"  # another audience is another token


async def test_a_token_is_refreshed_once_80_percent_of_its_lifetime_passed() -> None:
    tokens, _api, clock = manager()
    source = {"expirationSeconds": 1000, "path": "token"}
    await tokens.get(POD, source)
    clock.now += 801
    assert tokens.due() == ["prod/web"]
    assert await tokens.get(POD, source) == "token-2"
    assert tokens.due() == []


async def test_the_jitter_brings_the_refresh_up_to_10s_earlier() -> None:
    tokens, _api, clock = manager(jitter=0.999)
    await tokens.get(POD, {"expirationSeconds": 1000, "path": "token"})
    clock.now += 792
    assert tokens.due() == ["prod/web"]
    tokens.jitter = lambda: 0.0
    assert tokens.due() == []


async def test_a_token_older_than_24h_is_refreshed_whatever_its_lifetime() -> None:
    tokens, _api, clock = manager()
    source = {"expirationSeconds": 7 * 24 * 3600, "path": "token"}
    await tokens.get(POD, source)
    clock.now += 24 * 3600 - 1
    assert await tokens.get(POD, source) == "token-1"
    clock.now += 2
    assert await tokens.get(POD, source) == "token-2"


async def test_a_failed_refresh_keeps_a_valid_token_and_fails_once_it_expired() -> None:
    tokens, api, clock = manager()
    source = {"expirationSeconds": 1000, "path": "token"}
    await tokens.get(POD, source)
    api.failure = errors.ServiceUnavailable("etcd is away")
    clock.now += 900
    assert await tokens.get(POD, source) == "token-1"
    clock.now += 101
    with pytest.raises(TokenError, match=r"expired and refresh failed: etcd is away"):
        await tokens.get(POD, source)
    api.failure = None
    assert await tokens.get(POD, source) == "token-4"


async def test_a_first_request_that_fails_is_an_error() -> None:
    tokens, api, _clock = manager()
    api.failure = errors.Forbidden('serviceaccounts "robot" is forbidden: ...')
    with pytest.raises(TokenError, match=r'^failed to fetch token: serviceaccounts "robot" is forbidden'):
        await tokens.get(POD, {"path": "token"})
    assert len(tokens) == 0


async def test_an_answer_without_a_token_is_an_error() -> None:
    async def empty(namespace: str, account: str, request: Obj) -> Obj:
        return {"status": {}}
    tokens = TokenManager(empty)
    with pytest.raises(TokenError, match="failed to fetch token"):
        await tokens.get(POD, {"path": "token"})


async def test_concurrent_gets_of_one_key_make_one_request() -> None:
    tokens, api, _clock = manager()
    got = await asyncio.gather(*(tokens.get(POD, {"path": "token"}) for _ in range(5)))
    assert got == ["token-1"] * 5 and len(api.requests) == 1


async def test_a_pods_tokens_are_forgotten_when_it_goes_and_expired_ones_dropped() -> None:
    tokens, _api, clock = manager()
    other = {**POD, "metadata": {"name": "db", "namespace": "prod", "uid": "u2"}}
    await tokens.get(POD, {"path": "token"})
    await tokens.get(other, {"path": "token", "expirationSeconds": 7200})
    tokens.forget_pod("u1")
    assert len(tokens) == 1
    assert await tokens.get(POD, {"path": "token"}) == "token-3"  # a namesake asks anew
    clock.now += 3601
    tokens.cleanup()
    assert len(tokens) == 1  # the 2 h token is still valid


async def test_the_loop_hands_due_pods_to_the_queue() -> None:
    clock = Clock()
    woken: list[str] = []
    tokens = TokenManager(TokenApi(clock), on_due=woken.append, clock=clock, jitter=lambda: 0.0, period=0.01)
    await tokens.get(POD, {"path": "token", "expirationSeconds": 1000})
    task = asyncio.get_running_loop().create_task(tokens.run())
    try:
        await asyncio.sleep(0.05)
        assert woken == []
        clock.now += 850
        async with asyncio.timeout(5):
            while not woken:
                await asyncio.sleep(0.01)
        assert woken[0] == "prod/web"
    finally:
        task.cancel()


def test_token_issued_time() -> None:
    assert Token("t", T0 + 600, 600).issued == T0


# ---------------------------------------------------------------------------------------------- the volume


class Objects:
    def __init__(self, objects: dict[tuple[str, str, str], Obj]) -> None:
        self.objects = objects

    async def __call__(self, rt: ResourceType, namespace: str, name: str) -> Obj | None:
        return self.objects.get((rt.plural, namespace, name))


CA = {(CONFIGMAPS.plural, "prod", "kube-root-ca.crt"): {"data": {"ca.crt": "-----BEGIN CERTIFICATE-----\n"}}}


async def test_the_api_access_volume_holds_token_ca_and_namespace_and_refreshes_atomically(tmp_path: Path) -> None:
    tokens, _api, clock = manager()
    volumes = VolumeManager(tmp_path, Objects(CA), tokens)
    pod = {**POD, "spec": {**POD["spec"], "volumes": [API_ACCESS]}}
    mounted = await volumes.setup(pod)
    base = Path(mounted[API_ACCESS["name"]].path)
    assert mounted[API_ACCESS["name"]].read_only
    assert base == tmp_path / "pods" / "u1" / "volumes" / "kubernetes.io~projected" / "kube-api-access-abcde"
    assert sorted(p.name for p in base.iterdir() if not p.name.startswith("..")) == ["ca.crt", "namespace", "token"]
    assert (base / "token").read_text() == "token-1" and (base / "namespace").read_text() == "prod"
    assert (base / "token").stat().st_mode & 0o777 == 0o644 and os.readlink(base / "token") == "..data/token"
    first = os.readlink(base / "..data")

    await volumes.setup(pod)
    assert os.readlink(base / "..data") == first  # nothing changed: nothing rewritten

    clock.now += 0.81 * 3607
    await volumes.setup(pod)
    assert (base / "token").read_text() == "token-2"
    assert os.readlink(base / "..data") != first and not (base / first).exists()


async def test_the_token_has_the_projected_volumes_mode(tmp_path: Path) -> None:
    tokens, _api, _clock = manager()
    volume = {"name": "t", "projected": {"defaultMode": 0o440, "sources": [{"serviceAccountToken": {"path": "a/t"}}]}}
    mounted = await VolumeManager(tmp_path, Objects({}), tokens).setup({**POD, "spec": {"volumes": [volume]}})
    path = Path(mounted["t"].path) / "a" / "t"
    assert path.read_text() == "token-1" and path.stat().st_mode & 0o777 == 0o440


async def test_a_token_that_cannot_be_had_fails_the_mount_with_every_sources_error(tmp_path: Path) -> None:
    tokens, api, _clock = manager()
    api.failure = errors.NotFound('serviceaccounts "robot" not found')
    volumes = VolumeManager(tmp_path, Objects({}), tokens)
    pod = {**POD, "spec": {**POD["spec"], "volumes": [API_ACCESS]}}
    with pytest.raises(VolumeError) as caught:
        await volumes.setup(pod)
    assert str(caught.value) == ('MountVolume.SetUp failed for volume "kube-api-access-abcde" : '
                                 '[failed to fetch token: serviceaccounts "robot" not found, '
                                 'configmap "kube-root-ca.crt" not found]')
    assert not (tmp_path / "pods" / "u1" / "volumes" / "kubernetes.io~projected" / "kube-api-access-abcde").exists()
    with pytest.raises(VolumeError, match="standalone mode"):
        await VolumeManager(tmp_path, Objects(CA)).setup(pod)


# ---------------------------------------------------------------------------------------------- the pod workers


class TokenClient(FakeClient):
    """The FakeClient with the TokenRequest endpoint and the kube-root-ca.crt ConfigMap."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[Obj] = []
        self.token_requests: list[tuple[str, Obj]] = []
        self.refuse: errors.ApiError | None = None

    async def get(self, rt: Any, name: str, namespace: str | None = None) -> Any:
        if rt is CONFIGMAPS and name == "kube-root-ca.crt":
            return {"data": {"ca.crt": "CA"}}
        return await super().get(rt, name, namespace)

    async def create(self, rt: Any, obj: Obj, namespace: str | None = None, **kw: Any) -> Any:
        if obj.get("kind") == "Event":
            self.events.append(obj)
        return obj

    async def request_object(self, method: str, path: str, **kwargs: Any) -> Obj:
        self.token_requests.append((f"{method} {path}", kwargs["body"]))
        if self.refuse is not None:
            raise self.refuse
        return {**kwargs["body"], "status": {"token": "jwt", "expirationTimestamp": stamp(T0 + 10**9)}}


def api_pod() -> Obj:
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u-tok"},
            "spec": {"nodeName": "n1", "restartPolicy": "Always", "serviceAccountName": "default",
                     "volumes": [API_ACCESS],
                     "containers": [{"name": "main", "image": "busybox", "volumeMounts": [
                         {"name": API_ACCESS["name"], "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                          "readOnly": True}]}]},
            "status": {"phase": "Pending", "qosClass": "BestEffort"}}


async def settle(w: Any) -> None:
    for _ in range(20):
        if not w._tasks:
            return
        await asyncio.sleep(0.01)


async def test_a_pod_gets_its_token_through_the_token_request_api_and_forgets_it_when_gone() -> None:
    runtime, client = FakeRuntime(), TokenClient()
    w = workers(runtime, client)  # type: ignore[arg-type]
    await w.sync_pod(api_pod())
    assert client.token_requests == [("POST /api/v1/namespaces/ns/serviceaccounts/default/token", {
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {
            "audiences": [], "expirationSeconds": 3607,
            "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p", "uid": "u-tok"}}})]
    token = w.volumes.pod_dir("u-tok") / "volumes" / "kubernetes.io~projected" / API_ACCESS["name"] / "token"
    assert token.read_text() == "jwt"
    assert {c.name for c in runtime.containers.values()} == {"POD", "main"}
    assert len(w.tokens) == 1
    w._forget("u-tok")
    assert len(w.tokens) == 0


async def test_a_refused_token_keeps_the_pod_from_starting_with_a_failed_mount_event() -> None:
    runtime, client = FakeRuntime(), TokenClient()
    client.refuse = errors.Forbidden('serviceaccounts "default" is forbidden: User "system:node:n1" cannot '
                                     'create resource "serviceaccounts/token"')
    w = workers(runtime, client)  # type: ignore[arg-type]
    await w.sync_pod(api_pod())
    await settle(w)
    assert runtime.containers == {}
    failed = [e for e in client.events if e.get("reason") == "FailedMount"]
    assert len(failed) == 1 and failed[0]["type"] == "Warning"
    assert failed[0]["message"] == (f'MountVolume.SetUp failed for volume "{API_ACCESS["name"]}" : failed to fetch '
                                    'token: serviceaccounts "default" is forbidden: User "system:node:n1" cannot '
                                    'create resource "serviceaccounts/token"')


async def test_a_running_pods_failed_refresh_is_a_failed_mount_event_and_the_old_file_stays() -> None:
    runtime, client = FakeRuntime(), TokenClient()
    w = workers(runtime, client)  # type: ignore[arg-type]
    p = api_pod()
    await w.sync_pod(p)
    token = w.volumes.pod_dir("u-tok") / "volumes" / "kubernetes.io~projected" / API_ACCESS["name"] / "token"
    client.refuse = errors.Unauthorized("Unauthorized")
    w.tokens.clock = lambda: T0 + 10**9 + 1  # expired
    await w.sync_pod(p)
    await settle(w)
    failed = [e for e in client.events if e.get("reason") == "FailedMount"]
    assert len(failed) == 1 and "expired and refresh failed: Unauthorized" in failed[0]["message"]
    assert token.read_text() == "jwt" and {c.name for c in runtime.containers.values()} == {"POD", "main"}
