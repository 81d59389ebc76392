"""Status objects: built by the server from exceptions, turned back into exceptions by clients."""

from __future__ import annotations

from kube import errors


def test_not_found_status_shape() -> None:
    status = errors.NotFound.for_object("pods", "web").to_status()
    assert status == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "message": 'pods "web" not found', "reason": "NotFound", "code": 404,
                      "details": {"name": "web", "kind": "pods"}}


def test_invalid_lists_causes_in_message() -> None:
    err = errors.Invalid.for_object("Pod", "web", [{"reason": "FieldValueRequired", "field": "spec.containers",
                                                     "message": "Required value"}])
    assert err.message == 'Pod "web" is invalid: spec.containers: Required value'
    assert err.to_status()["details"]["causes"][0]["field"] == "spec.containers"


def test_round_trip_through_status() -> None:
    original = errors.AlreadyExists.for_object("deployments", "web", "apps")
    back = errors.error_from_status(original.to_status(), 409)
    assert isinstance(back, errors.AlreadyExists) and back.message == 'deployments.apps "web" already exists'
    assert isinstance(errors.error_from_status(None, 410), errors.Gone)
    assert isinstance(errors.error_from_status({"code": 409, "reason": "Conflict"}, 409), errors.Conflict)
