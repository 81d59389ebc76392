"""Query parameters and continue tokens: typed as Kubernetes types them, refused with 400/422, never a 500."""

from __future__ import annotations

import base64
import json

import pytest

from apiserver.params import ContinueToken, ListOptions, parse_delete_options, parse_write_options
from kube import errors


def _token(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


@pytest.mark.parametrize("query", [
    {"limit": str(10**20)}, {"limit": "-1"}, {"limit": "1.5"}, {"limit": "ten"},
    {"timeoutSeconds": "nan"}, {"timeoutSeconds": "inf"}, {"timeoutSeconds": "-3"},
    {"watch": "yes"}, {"resourceVersion": "-5"}, {"resourceVersion": "abc"}, {"resourceVersion": str(2**64)},
    {"resourceVersion": "١٢"},  # Arabic-Indic digits: str.isdigit says yes, Kubernetes says no
    {"resourceVersionMatch": "Newest", "resourceVersion": "5"},
    {"resourceVersionMatch": "Exact"},
    {"resourceVersionMatch": "Exact", "resourceVersion": "0"},
    {"sendInitialEvents": "true"},
    {"watch": "true", "sendInitialEvents": "true", "resourceVersionMatch": "Exact", "resourceVersion": "3"},
], ids=lambda q: "&".join(f"{k}={v}" for k, v in q.items()))
def test_bad_list_options_are_client_errors(query: dict[str, str]) -> None:
    with pytest.raises(errors.ApiError) as caught:
        ListOptions.from_query(query)
    assert caught.value.code in (400, 422)


def test_list_options_typed() -> None:
    opts = ListOptions.from_query({"limit": "500", "resourceVersion": "42", "timeoutSeconds": "30", "watch": "1",
                                   "allowWatchBookmarks": "true"})
    assert (opts.limit, opts.revision, opts.timeout_seconds, opts.watch, opts.allow_bookmarks) == (500, 42, 30, True,
                                                                                                  True)
    kubectl_watch_list = ListOptions.from_query({"watch": "true", "sendInitialEvents": "true",
                                                 "resourceVersionMatch": "NotOlderThan",
                                                 "allowWatchBookmarks": "true"})
    assert kubectl_watch_list.send_initial_events


def test_continue_token_round_trip_and_binding() -> None:
    opts = ListOptions(label_selector="app=web")
    token = ContinueToken(17, "web-2\0", opts.selectors_digest()).encode()
    back = ListOptions(label_selector="app=web", continue_token=token).continuation()
    assert back is not None and (back.revision, back.start) == (17, "web-2\0")
    with pytest.raises(errors.BadRequest, match="other label or field selectors"):
        ListOptions(label_selector="app=db", continue_token=token).continuation()


@pytest.mark.parametrize("data", [
    {"v": "meta.k8s.io/v1", "rv": 10**30, "start": "a", "sel": None},
    {"v": "meta.k8s.io/v1", "rv": -4, "start": "a"},
    {"v": "meta.k8s.io/v1", "rv": "12", "start": "a"},
    {"v": "meta.k8s.io/v1", "rv": True, "start": "a"},
    {"v": "meta.k8s.io/v1", "rv": 12, "start": 5},
    {"v": "meta.k8s.io/v1", "rv": 12, "start": "../../secrets/kube-system/x"},
    {"v": "meta.k8s.io/v1", "rv": 12, "start": "/registry/secrets/"},
    {"rv": 12, "start": "a"},
    ["not", "an", "object"],
], ids=["huge-rv", "negative-rv", "string-rv", "bool-rv", "int-start", "dotdot", "absolute", "no-version",
        "list"])
def test_malformed_continue_tokens_are_400(data: object) -> None:
    digest = ListOptions().selectors_digest()
    if isinstance(data, dict) and "sel" not in data:
        data = {**data, "sel": digest}
    with pytest.raises(errors.BadRequest, match="continue key is not valid"):
        ListOptions(continue_token=_token(data)).continuation()
    with pytest.raises(errors.BadRequest):
        ListOptions(continue_token="%%%not-base64").continuation()


def test_dry_run_and_write_options() -> None:
    assert parse_write_options({}, ["All"]).dry_run
    assert not parse_write_options({}, []).dry_run
    with pytest.raises(errors.Invalid) as caught:
        parse_write_options({}, ["Everything"])
    assert caught.value.causes[0]["field"] == "dryRun"
    assert 'CreateOptions.meta.k8s.io "" is invalid' in caught.value.message
    with pytest.raises(errors.Invalid):
        parse_write_options({"force": "true"}, [], "PatchOptions", apply=False)
    assert parse_write_options({"force": "true", "fieldManager": "me"}, [], "PatchOptions", apply=True).force
    with pytest.raises(errors.Invalid, match="fieldManager: Required value"):
        parse_write_options({}, [], "PatchOptions", apply=True)
    assert parse_write_options({}, [], user_agent="kubectl/v1.37.0 (linux/amd64)").manager == "kubectl"
    assert parse_write_options({"fieldManager": "mine"}, [], user_agent="kubectl/v1").manager == "mine"
    with pytest.raises(errors.Invalid):
        parse_write_options({"fieldManager": "x" * 129}, [])
    with pytest.raises(errors.BadRequest):
        parse_write_options({"fieldValidation": "Loud"}, [])


@pytest.mark.parametrize("body", [
    {"gracePeriodSeconds": "5"}, {"gracePeriodSeconds": True}, {"propagationPolicy": 3},
    {"propagationPolicy": "Sideways"}, {"preconditions": []}, {"preconditions": {"uid": 5}},
    {"dryRun": "All"}, {"dryRun": ["Some"]}, {"orphanDependents": "yes"},
    {"orphanDependents": True, "propagationPolicy": "Background"}, [1, 2],
], ids=str)
def test_bad_delete_options(body: object) -> None:
    with pytest.raises(errors.ApiError) as caught:
        parse_delete_options(body)
    assert caught.value.code in (400, 422)


def test_delete_options_from_body_and_query() -> None:
    opts = parse_delete_options({"propagationPolicy": "Foreground", "dryRun": ["All"],
                                 "preconditions": {"uid": "u1"}}, {"gracePeriodSeconds": "0"})
    assert (opts.propagation_policy, opts.dry_run, opts.precondition_uid, opts.grace_period_seconds) == (
        "Foreground", True, "u1", 0)
    assert parse_delete_options({"orphanDependents": True}).propagation_policy == "Orphan"
    assert parse_delete_options(None, {}, ["All"]).dry_run
