"""The shared scheduling rules: taint toleration (once three copies that disagreed on an unknown operator)
and pod requests counted as Kubernetes' PodRequests counts them (sidecars, init containers, overhead)."""

from __future__ import annotations

import pytest

from kube.scheduling import pod_requests, tolerates, untolerated_taint

TAINT = {"key": "gpu", "value": "a100", "effect": "NoSchedule"}


@pytest.mark.parametrize(("toleration", "expected"), [
    pytest.param({"key": "gpu", "value": "a100", "effect": "NoSchedule"}, True, id="equal"),
    pytest.param({"key": "gpu", "value": "a100"}, True, id="any-effect"),
    pytest.param({"key": "gpu", "value": "h100"}, False, id="other-value"),
    pytest.param({"key": "gpu", "operator": "Exists"}, True, id="exists"),
    pytest.param({"operator": "Exists"}, True, id="exists-without-key-tolerates-all"),
    pytest.param({"operator": "Exists", "effect": "NoExecute"}, False, id="exists-other-effect"),
    pytest.param({"key": "gpu", "operator": "Gt", "value": "a100"}, False, id="unknown-operator-tolerates-nothing"),
    pytest.param({"key": "other", "operator": "Exists"}, False, id="other-key"),
])
def test_tolerates(toleration: dict, expected: bool) -> None:
    assert tolerates(toleration, TAINT) is expected


def test_untolerated_taint_looks_only_at_the_given_effects() -> None:
    taints = [{"key": "a", "effect": "PreferNoSchedule"}, TAINT]
    assert untolerated_taint(taints, [], ("NoSchedule",)) == TAINT
    assert untolerated_taint(taints, [{"key": "gpu", "operator": "Exists"}], ("NoSchedule",)) is None


def _c(name: str, cpu: str, **extra: object) -> dict:
    return {"name": name, "resources": {"requests": {"cpu": cpu}}, **extra}


@pytest.mark.parametrize(("spec", "cpu"), [
    pytest.param({"containers": [_c("a", "100m"), _c("b", "200m")]}, 300, id="containers-summed"),
    pytest.param({"containers": [_c("a", "100m")], "initContainers": [_c("i", "1")]}, 1000,
                 id="larger-init-container"),
    pytest.param({"containers": [_c("a", "100m")], "initContainers": [_c("s", "200m", restartPolicy="Always")]},
                 300, id="sidecar-runs-beside-the-app"),
    pytest.param({"containers": [_c("a", "100m")],
                  "initContainers": [_c("s", "200m", restartPolicy="Always"), _c("i", "500m")]}, 700,
                 id="init-after-sidecar-runs-beside-it"),
    pytest.param({"containers": [_c("a", "100m")],
                  "initContainers": [_c("i", "500m"), _c("s", "200m", restartPolicy="Always")]}, 500,
                 id="init-before-sidecar-runs-alone"),
    pytest.param({"containers": [_c("a", "100m")], "overhead": {"cpu": "50m"}}, 150, id="overhead"),
])
def test_pod_requests(spec: dict, cpu: int) -> None:
    assert pod_requests(spec)["cpu"] == cpu


def test_pod_requests_counts_every_resource() -> None:
    spec = {"containers": [{"name": "a", "resources": {"requests": {"memory": "1Mi", "example.com/gpu": "2"}}}]}
    assert pod_requests(spec) == {"memory": 2**20, "example.com/gpu": 2}
