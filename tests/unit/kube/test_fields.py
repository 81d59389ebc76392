"""Field selector strings read as apimachinery's fields.ParseSelector does (issue 10: `metadata.name==a==b` was
accepted), and the per-kind field labels Kubernetes supports."""

from __future__ import annotations

import pytest

from kube import fields

_POD = {"metadata": {"name": "a,b", "namespace": "ns"}, "spec": {"nodeName": "n=1"}, "status": {"phase": "Running"}}


@pytest.mark.parametrize(("selector", "message"), [
    pytest.param("metadata.name==a==b", "invalid field selector: unescaped character in value: 61",
                 id="double-equals-twice"),
    pytest.param("a=b!=c", "invalid field selector: unescaped character in value: 61", id="first-operator-wins"),
    pytest.param("x!==y", "invalid field selector: unescaped character in value: 61", id="not-equals-then-equals"),
    pytest.param("metadata.name=a\\", "invalid field selector: invalid escape sequence: \\", id="trailing-backslash"),
    pytest.param("metadata.name=a\\b", "invalid field selector: invalid escape sequence: \\b", id="unknown-escape"),
    pytest.param("a=b,nonsense", "invalid selector: 'a=b,nonsense'; can't understand 'nonsense'",
                 id="message-quotes-whole-selector"),
])
def test_refused_with_kubernetes_message(selector: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        fields.parse(selector)
    assert str(caught.value) == message


@pytest.mark.parametrize(("selector", "terms"), [
    pytest.param("metadata.name=a\\,b", (("metadata.name", True, "a,b"),), id="escaped-comma"),
    pytest.param("spec.nodeName=n\\=1", (("spec.nodeName", True, "n=1"),), id="escaped-equals"),
    pytest.param("x=a\\\\", (("x", True, "a\\"),), id="escaped-backslash"),
    pytest.param("metadata.name = p", (("metadata.name ", True, " p"),), id="whitespace-kept"),
    pytest.param("b=1,a!=2", (("a", False, "2"), ("b", True, "1")), id="terms-sorted"),
    pytest.param("=x", (("", True, "x"),), id="empty-field-parses"),
])
def test_terms(selector: str, terms: tuple[tuple[str, bool, str], ...]) -> None:
    assert fields.parse(selector).terms == terms


@pytest.mark.parametrize(("selector", "expected"), [
    pytest.param("metadata.name=a\\,b", True, id="escaped-comma-matches"),
    pytest.param("spec.nodeName=n\\=1,status.phase!=Failed", True, id="escaped-equals-matches"),
    pytest.param("metadata.name = a\\,b", False, id="spaces-are-part-of-name-and-value"),
])
def test_matching(selector: str, expected: bool) -> None:
    assert fields.parse(selector).matches(_POD) is expected


@pytest.mark.parametrize(("value", "selector"), [
    pytest.param("a,b=c\\d", "x=a\\,b\\=c\\\\d", id="escape-every-special"),
])
def test_escape_round_trip(value: str, selector: str) -> None:
    assert f"x={fields.escape_value(value)}" == selector
    assert fields.parse(selector).exact("x") == value
    assert str(fields.parse(selector)) == selector


@pytest.mark.parametrize(("kind", "selector", "refused"), [
    pytest.param("Pod", "spec.nodeName=n1,status.phase!=Failed", None, id="pod-node-and-phase"),
    pytest.param("Pod", "spec.containers=x", "spec.containers", id="pod-unsupported"),
    pytest.param("Node", "metadata.namespace=x", "metadata.namespace", id="node-has-no-namespace-label"),
    pytest.param("Node", "spec.unschedulable=true", None, id="node-unschedulable"),
    pytest.param("Event", "involvedObject.name=p,involvedObject.uid=u,reason=Started", None, id="event-fields"),
    pytest.param("ConfigMap", "metadata.name=a,metadata.namespace=b", None, id="default-meta-fields"),
    pytest.param("ConfigMap", "data.x=1", "data.x", id="default-refuses-others"),
    pytest.param("Secret", "type=Opaque", None, id="secret-type"),
    pytest.param("Service", "spec.clusterIP=None", None, id="service-cluster-ip"),
    pytest.param("ConfigMap", "=x", "", id="empty-field-refused"),
    pytest.param("Pod", "metadata.name =p", "metadata.name ", id="trailing-space-refused"),
])
def test_supported_field_labels(kind: str, selector: str, refused: str | None) -> None:
    parsed = fields.parse(selector)
    if refused is None:
        fields.check_supported(kind, parsed)
        return
    with pytest.raises(ValueError) as caught:
        fields.check_supported(kind, parsed)
    assert str(caught.value) == f"field label not supported: {refused}"
