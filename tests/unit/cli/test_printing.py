"""Rendering without a server: kubectl-style tables, -o name/yaml, describe pages, argument grammar, errors."""

from __future__ import annotations

import pytest
import yaml

from cli import context, describe, printing, resources_cmd
from cli.delete import grace_seconds
from cli.get import parse_targets
from kube import errors, resources, timeutil


def pod(name: str, namespace: str = "default", phase: str = "Pending", node: str | None = None) -> dict:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": timeutil.now(),
                     "labels": {"app": name}},
        "spec": {"containers": [{"name": "c", "image": "busybox:latest"}], **({"nodeName": node} if node else {})},
        "status": {"phase": phase},
    }


def test_pod_table_matches_kubectl_layout() -> None:
    text = printing.table_for(resources.PODS, [pod("demo"), pod("a-much-longer-name")])
    lines = text.splitlines()
    assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert lines[0].startswith("NAME                 READY   STATUS    RESTARTS   AGE")
    assert lines[1].startswith("demo                 0/1     Pending   0          ")
    assert all(line == line.rstrip() for line in lines)
    starts = {line.index("Pending") for line in lines[1:]}
    assert starts == {lines[0].index("STATUS")}  # cells line up under their header


def test_wide_adds_priority_one_columns_and_all_namespaces_a_namespace_column() -> None:
    header = printing.table_for(resources.PODS, [pod("p", node="n1")], wide=True).splitlines()[0]
    assert header.split()[5:7] == ["IP", "NODE"]
    lines = printing.table_for(resources.PODS, [pod("p", "ns1")], with_namespace=True).splitlines()
    assert lines[0].startswith("NAMESPACE   NAME")
    assert lines[1].startswith("ns1         p")


def test_kind_prefix_and_labels_column() -> None:
    lines = printing.table_for(resources.PODS, [pod("p")], with_kind=True, show_labels=True).splitlines()
    assert lines[0].endswith("LABELS")
    assert lines[1].startswith("pod/p ")
    assert lines[1].endswith("app=p")


def test_types_without_their_own_columns_get_name_and_age() -> None:
    rt = resources.ResourceType("example.com", "v1", "Widget", "widgets", True)
    text = printing.table_for(rt, [{"metadata": {"name": "w", "creationTimestamp": timeutil.now()}}])
    assert text.splitlines()[0].split() == ["NAME", "AGE"]


def test_a_malformed_object_does_not_break_the_table() -> None:
    broken = pod("x")
    broken["status"] = {"containerStatuses": "oops"}
    assert "<unknown>" in printing.table_for(resources.PODS, [broken])


def test_name_and_yaml_outputs() -> None:
    assert printing.name_of(resources.PODS, pod("demo")) == "pod/demo"
    group_rt = resources.ResourceType("apps", "v1", "Deployment", "deployments", True)
    assert printing.name_of(group_rt, {"metadata": {"name": "web"}}) == "deployment.apps/web"
    item = printing.with_type(resources.PODS, {"metadata": {"name": "p", "resourceVersion": "6"}})
    text = printing.dump(printing.as_list([item]), "yaml")
    assert 'resourceVersion: "6"' in text  # quoted so it stays a string, as kubectl prints it
    assert yaml.safe_load(text)["items"][0]["kind"] == "Pod"


def test_tabwrite_aligns_runs_of_lines_like_go_tabwriter() -> None:
    text = describe.tabwrite(["Name:\tdemo", "Namespace:\tdefault", "Containers:", "  c:\tx", "  longer:\ty"])
    assert text.splitlines() == ["Name:       demo", "Namespace:  default", "Containers:", "  c:       x",
                                 "  longer:  y"]


def test_describe_pod_page() -> None:
    obj = pod("demo", node="n1")
    obj["metadata"]["labels"] = {"app": "demo", "tier": "web"}
    obj["status"].update(podIP="10.0.0.5", hostIP="192.168.1.2", conditions=[{"type": "Ready", "status": "False"}],
                         containerStatuses=[{"name": "c", "ready": False, "restartCount": 2, "image": "busybox",
                                             "state": {"waiting": {"reason": "CrashLoopBackOff"}}}])
    w = describe.Writer()
    describe.describe_pod(w, obj)
    describe.events_section(w, [{"type": "Normal", "reason": "Scheduled", "source": {"component": "default-scheduler"},
                                 "message": "Successfully assigned default/demo to n1",
                                 "lastTimestamp": timeutil.now(), "metadata": {"name": "e"}}])
    page = w.render()
    assert "Node:             n1/192.168.1.2" in page
    assert "Labels:           app=demo\n                  tier=web" in page
    lines = page.splitlines()
    assert "      Reason:       CrashLoopBackOff" in lines  # under its State, aligned with the container's fields
    assert "    Restart Count:  2" in lines
    assert [line.split() for line in lines if line.startswith("  Ready ")] == [["Ready", "False"]]
    event_lines = page.split("Events:")[1].splitlines()
    assert event_lines[1].split() == ["Type", "Reason", "Age", "From", "Message"]
    assert event_lines[3].split()[:2] == ["Normal", "Scheduled"]


def test_parse_targets_grammar() -> None:
    [req] = parse_targets(["po", "a", "b"])
    assert req.rt is resources.PODS and req.names == ["a", "b"]
    reqs = parse_targets(["pod/a", "ns/x", "pods/b"])
    assert [(r.rt.kind, r.names) for r in reqs] == [("Pod", ["a", "b"]), ("Namespace", ["x"])]
    assert [r.rt.kind for r in parse_targets(["pods,nodes"])] == ["Pod", "Node"]
    with pytest.raises(context.CliError, match='resource type "bogus"'):
        parse_targets(["bogus"])
    with pytest.raises(context.CliError, match="must specify the type"):
        parse_targets([])


def test_kubectl_error_wording() -> None:
    missing = errors.NotFound.for_object("pods", "nope")
    assert context.api_error_message(missing) == 'Error from server (NotFound): pods "nope" not found'
    invalid = errors.Invalid.for_object("Pod", "bad", [
        {"field": "spec.containers[0].image", "reason": "FieldValueRequired", "message": "Required value"},
        {"field": "metadata.name", "reason": "FieldValueInvalid", "message": "Invalid value: \"B\""}])
    text = context.api_error_message(invalid, 'error when creating "x.yaml"')
    assert text.splitlines() == ['The Pod "bad" is invalid: ', "* spec.containers[0].image: Required value",
                                 '* metadata.name: Invalid value: "B"']
    one = errors.Invalid.for_object("Pod", "bad", [{"field": "spec.x", "message": "Required value"}])
    assert context.api_error_message(one) == 'The Pod "bad" is invalid: spec.x: Required value'
    conflict = errors.AlreadyExists.for_object("pods", "p")
    assert context.api_error_message(conflict, 'error when creating "f.yaml"') == (
        'Error from server (AlreadyExists): error when creating "f.yaml": pods "p" already exists')


@pytest.mark.parametrize(("given", "force", "sent"), [(-1, False, None), (0, False, 1), (0, True, 0), (5, False, 5),
                                                      (-1, True, 0)])
def test_grace_period_rules(given: int, force: bool, sent: int | None) -> None:
    assert grace_seconds(given, force) == sent


def test_api_resources_lists_the_shared_table() -> None:
    lines = resources_cmd.render().splitlines()
    assert lines[0].split() == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    assert any(line.split()[:2] == ["pods", "po"] for line in lines)
    assert len(lines) == len(resources.RESOURCES) + 1


@pytest.mark.parametrize(("key", "label"), [("resourceVersion", "Resource Version"), ("podIP", "Pod IP"),
                                            ("hostIPs", "Host IPs"), ("dnsPolicy", "DNS Policy"), ("uid", "UID"),
                                            ("containerID", "Container ID")])
def test_generic_field_labels(key: str, label: str) -> None:
    assert describe._title(key) == label


def test_generic_describe_outlines_any_type() -> None:
    rt = resources.ResourceType("example.com", "v1", "Widget", "widgets", True)
    obj = {"apiVersion": "example.com/v1", "kind": "Widget",
           "metadata": {"name": "w", "namespace": "ns", "labels": {"a": "b"}, "uid": "u1"},
           "spec": {"replicas": 2, "ports": [{"port": 80}], "paused": False}}
    w = describe.Writer()
    describe.describe_generic(w, obj, rt)
    lines = w.render().splitlines()
    assert lines[:3] == ["Name:         w", "Namespace:    ns", "Labels:       a=b"]
    assert "Spec:" in lines
    assert [line.split() for line in lines if "Replicas" in line or "Paused" in line or "Port:" in line] == [
        ["Replicas:", "2"], ["Port:", "80"], ["Paused:", "false"]]


def test_all_expands_to_the_types_of_that_category() -> None:
    requests = parse_targets(["all"])
    kinds = [r.rt.kind for r in requests]
    assert "Pod" in kinds and "Node" not in kinds
    assert all(r.optional for r in requests)
