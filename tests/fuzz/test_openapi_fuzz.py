"""schemathesis over the apiserver's own OpenAPI v3, for every served group-version (issue 10).

For each operation of the served document, requests are generated from the schema in three ways: positive (valid
by the schema), negative (violating it), and positive aimed at seeded objects (so get, update, patch, delete and the
subresources reach a real object instead of a 404). Each request is checked by the probe: no 5xx, an answer on an
intact connection, nothing stored by a refused or dry-run request.
"""

from __future__ import annotations

import contextlib
import re
import time
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import strategies as st
from schemathesis import GenerationMode

from apiserver import openapi
from kube.resources import NAMESPACES, RESOURCES, ResourceType
from tests.fuzz import objects
from tests.fuzz.conftest import Cluster, Knobs, Probe

pytestmark = pytest.mark.fuzz

# Core last: generated DELETEs of namespaces (and any name that reaches the namespace collection) hit the
# namespaces every other group-version's objects live in.
GVS = sorted(openapi.group_versions(), key=lambda gv: gv == ("", "v1"))
SEED_NAMESPACES = ("fuzz-a", "fuzz-b")
SEED = "seed-0"
_DROPPED_HEADERS = ("accept-encoding", "connection", "content-length", "user-agent")


def _gv_id(gv: tuple[str, str]) -> str:
    return f"{gv[0] or 'core'}/{gv[1]}"


def _collection(rt: ResourceType, namespace: str | None) -> str:
    return rt.collection_path(namespace if rt.namespaced else None)


def seed(cluster: Cluster, gv: tuple[str, str]) -> None:
    """The objects seeded requests aim at: `seed-0` of every kind in each seed namespace (or cluster-wide), and a
    namespace `seed-0` for namespace operations to update and delete. Recreated when a request deleted them."""
    for ns in SEED_NAMESPACES:
        cluster.create(NAMESPACES.collection_path(), objects.manifest(NAMESPACES, ns))
    for rt in RESOURCES:
        if (rt.group, rt.version) != gv:
            continue
        for ns in SEED_NAMESPACES if rt.namespaced else (None,):
            cluster.create(_collection(rt, ns), objects.manifest(rt, SEED, ns))


_NAMESPACE_OPS = re.compile(r"^/api/v1/namespaces(/\{name\}(/\w+)?)?$")


def lighten(node: Any) -> None:
    """Make bodies cheaper to generate without changing what they may hold: no random extra properties (the
    models accept them, and the hand-made cases send unknown fields on purpose), at most 3 items per list and 4
    entries per map. Generating a Pod from the full schema takes about 2 s; with this, about 0.2 s."""
    if isinstance(node, list):
        for item in node:
            lighten(item)
        return
    if not isinstance(node, dict):
        return
    if node.get("additionalProperties") is True:
        del node["additionalProperties"]
    if node.get("type") == "array":
        node.setdefault("maxItems", 3)
    if isinstance(node.get("additionalProperties"), dict):
        node.setdefault("maxProperties", 4)
    for value in node.values():
        lighten(value)


def strategies(op: Any) -> Any:
    """Positive, negative and seeded-positive cases of one operation (negative only where the schema allows)."""
    options = [op.as_strategy(generation_mode=GenerationMode.POSITIVE)]
    with contextlib.suppress(Exception):  # an operation with nothing to violate has no negative cases
        options.append(op.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    names = {p.name for p in op.path_parameters}
    if names:
        fixed = {n: v for n, v in (("namespace", SEED_NAMESPACES[0]), ("name", SEED)) if n in names}
        options.append(op.as_strategy(generation_mode=GenerationMode.POSITIVE, path_parameters=fixed))
    return st.one_of(options)


def send_case(probe: Probe, cluster: Cluster, case: Any) -> None:
    """Send the case; a write is sent first as `dryRun=All` too, which must store nothing whatever it answers."""
    kwargs = case.as_transport_kwargs(base_url=cluster.url)
    kwargs = {k: v for k, v in kwargs.items() if k in ("method", "url", "headers", "params", "data", "json")}
    variants = [kwargs]
    if kwargs["method"].upper() in ("POST", "PUT", "PATCH", "DELETE"):
        variants.insert(0, {**kwargs, "params": {**(kwargs.get("params") or {}), "dryRun": "All"}})
    for variant in variants:
        prepared = requests.Request(**variant).prepare()
        headers = {k: v for k, v in prepared.headers.items() if k.lower() not in _DROPPED_HEADERS}
        body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
        probe.send(case.operation.label, prepared.method or "GET", prepared.path_url, headers=headers, body=body,
                   dry_run=variant is not kwargs)


class _BudgetSpent(BaseException):
    """Ends one operation's examples at once (hypothesis lets a BaseException through without shrinking)."""


def _fuzz_operation(op: Any, probe: Probe, cluster: Cluster, knobs: Knobs, op_end: float) -> None:
    sent = 0

    @hypothesis.settings(max_examples=knobs.examples * 3, deadline=None, database=None,
                         suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    @given(case=strategies(op))
    def run(case: Any) -> None:
        nonlocal sent
        if sent and time.monotonic() > op_end:
            raise _BudgetSpent
        sent += 1
        send_case(probe, cluster, case)

    if knobs.seed is not None:
        run = hypothesis.seed(knobs.seed)(run)
    run()


def _budget(knobs: Knobs, gv: tuple[str, str]) -> float:
    """This group-version's share of the time budget, by its number of operations."""
    counts = {g: sum(1 for p in openapi.document(*g)["paths"].values() for m in p if m != "parameters") for g in GVS}
    return knobs.seconds * counts[gv] / sum(counts.values())


@pytest.mark.parametrize("gv", GVS, ids=_gv_id)
def test_generated_requests(gv: tuple[str, str], cluster: Cluster, probe: Probe, knobs: Knobs) -> None:
    group, version = gv
    index = cluster.http.get("/openapi/v3").json()["paths"]
    assert set(index) == {f"apis/{g}/{v}" if g else f"api/{v}" for g, v in GVS}  # every served group-version
    served = cluster.http.get(index[f"apis/{group}/{version}" if group else f"api/{version}"]["serverRelativeURL"])
    document = served.json()
    lighten(document["components"])
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]
    # Namespace operations last: a DELETE that reaches the namespace collection would empty the seeds.
    operations.sort(key=lambda op: bool(_NAMESPACE_OPS.match(op.path)))
    probe.suite = f"schemathesis {_gv_id(gv)}"
    failures_before = len(probe.recorder.by_suite[probe.suite])
    end = time.monotonic() + _budget(knobs, gv)
    for i, op in enumerate(operations):
        seed(cluster, gv)
        # Each operation gets a fair share of what is left, so a slow one cannot starve the rest.
        op_end = time.monotonic() + max(0.5, (end - time.monotonic()) / (len(operations) - i))
        with contextlib.suppress(_BudgetSpent):
            _fuzz_operation(op, probe, cluster, knobs, op_end)
    failures = probe.recorder.by_suite[probe.suite][failures_before:]
    assert not failures, f"{len(failures)} failing requests:\n{probe.recorder.report(probe.suite)}"


#: the share of the time budget the requests without credentials get, beside the admin's
ANONYMOUS_SHARE = 0.2


@pytest.mark.parametrize("gv", GVS, ids=_gv_id)
def test_generated_requests_without_credentials(gv: tuple[str, str], cluster: Cluster, anonymous_probe: Probe,
                                                knobs: Knobs) -> None:
    """The same generated requests, with no client certificate or a bearer token nobody issued: each is a 401,
    answered on an intact connection, and nothing is stored."""
    group, version = gv
    index = cluster.http.get("/openapi/v3").json()["paths"]
    document = cluster.http.get(index[f"apis/{group}/{version}" if group else f"api/{version}"]
                                ["serverRelativeURL"]).json()
    lighten(document["components"])
    operations = [result.ok() for result in schemathesis.openapi.from_dict(document).get_all_operations()]
    probe = anonymous_probe
    probe.suite = f"anonymous {_gv_id(gv)}"
    tokens = iter(range(10**9))

    class _WrongToken:  # every other case carries a bearer token nobody issued
        def __init__(self, inner: Probe) -> None:
            self.inner = inner

        def send(self, label: str, method: str, path: str, **kwargs: Any) -> Any:
            headers = dict(kwargs.pop("headers", None) or {})
            headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            if next(tokens) % 2:
                headers["Authorization"] = "Bearer not-issued-by-anyone"
            return self.inner.send(label, method, path, headers=headers, **kwargs)

    end = time.monotonic() + _budget(knobs, gv) * ANONYMOUS_SHARE
    failures_before = len(probe.recorder.by_suite[probe.suite])
    for i, op in enumerate(operations):
        op_end = time.monotonic() + max(0.2, (end - time.monotonic()) / (len(operations) - i))
        with contextlib.suppress(_BudgetSpent):
            _fuzz_operation(op, _WrongToken(probe), cluster, knobs, op_end)  # type: ignore[arg-type]
    failures = probe.recorder.by_suite[probe.suite][failures_before:]
    assert not failures, f"{len(failures)} failing requests:\n{probe.recorder.report(probe.suite)}"
