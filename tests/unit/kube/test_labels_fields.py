"""Label and field selector parsing and matching (the string and the structured forms)."""

from __future__ import annotations

import pytest

from kube import fields, labels


@pytest.mark.parametrize(
    ("selector", "pod_labels", "expected"),
    [
        pytest.param("", {"a": "1"}, True, id="empty-selects-all"),
        pytest.param("app=web", {"app": "web"}, True, id="equals"),
        pytest.param("app==web", {"app": "db"}, False, id="double-equals-mismatch"),
        pytest.param("app!=web", {}, True, id="not-equals-absent"),
        pytest.param("app!=web", {"app": "web"}, False, id="not-equals-present"),
        pytest.param("env in (prod, staging)", {"env": "staging"}, True, id="in"),
        pytest.param("env notin (prod)", {"env": "prod"}, False, id="notin"),
        pytest.param("tier", {"tier": ""}, True, id="exists"),
        pytest.param("!tier", {"tier": "x"}, False, id="does-not-exist"),
        pytest.param("app=web,tier", {"app": "web"}, False, id="all-must-hold"),
    ],
)
def test_label_selector_matching(selector: str, pod_labels: dict[str, str], expected: bool) -> None:
    assert labels.parse(selector).matches(pod_labels) is expected


@pytest.mark.parametrize("bad", ["a in (", "=x", "a in b", "a,,=b"])
def test_label_selector_syntax_errors(bad: str) -> None:
    with pytest.raises(ValueError):
        labels.parse(bad)


def test_structured_selector() -> None:
    sel = labels.from_label_selector(
        {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["dev"]}]}
    )
    assert sel.matches({"app": "web", "env": "prod"})
    assert not sel.matches({"app": "web", "env": "dev"})
    assert labels.from_label_selector(None).matches({})


def test_field_selector() -> None:
    pod = {"metadata": {"name": "p", "namespace": "ns"}, "spec": {"nodeName": ""}, "status": {"phase": "Running"}}
    assert fields.parse("spec.nodeName=").matches(pod)
    assert fields.parse("metadata.name=p,status.phase!=Failed").matches(pod)
    assert not fields.parse("status.phase!=Running").matches(pod)
    assert fields.parse("metadata.name=p").exact("metadata.name") == "p"
    with pytest.raises(ValueError):
        fields.parse("nonsense")
