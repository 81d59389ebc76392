"""Conditions: lastTransitionTime moves only when the status does (it stayed put in some copies and moved
on every new message in others, e.g. the scheduler's PodScheduled=False)."""

from __future__ import annotations

from kube import conditions

OLD = [{"type": "Ready", "status": "False", "reason": "A", "lastTransitionTime": "t0"},
       {"type": "Other", "status": "True", "lastTransitionTime": "t0"}]


def test_a_new_reason_is_not_a_transition() -> None:
    out = conditions.set_condition(OLD, {"type": "Ready", "status": "False", "reason": "B"}, "t1")
    assert out[0] == {"type": "Ready", "status": "False", "reason": "B", "lastTransitionTime": "t0"}
    assert out[1] is OLD[1]


def test_a_new_status_is_a_transition_and_new_types_append() -> None:
    out = conditions.set_condition(OLD, {"type": "Ready", "status": "True"}, "t1")
    assert out[0]["lastTransitionTime"] == "t1"
    added = conditions.set_condition(OLD, {"type": "New", "status": "True"}, "t2")
    assert [c["type"] for c in added] == ["Ready", "Other", "New"] and added[2]["lastTransitionTime"] == "t2"


def test_find_and_in_status() -> None:
    assert conditions.find(OLD, "Other") is OLD[1]
    assert conditions.find(None, "Ready") is None
    assert conditions.in_status({"status": {"conditions": OLD}}, "Ready") is OLD[0]
    assert conditions.in_status({"conditions": OLD}, "Ready") is OLD[0]
    assert conditions.transition_time(None, "True", "now") == "now"
