"""The fault knobs on their own, and a time-boxed outage seen through the Python client."""

from __future__ import annotations

import time

import pytest
from kubernetes import client, config

from hotfix_actions.sandbox import Faults, Sandbox
from tests.sandbox.helpers import deployment


def test_fail_next_counts_and_filters_by_method_and_path() -> None:
    f = Faults()
    f.fail_next(2, status=500, methods=["patch"], path="/deployments")
    assert f.take_failure("GET", "/apis/apps/v1/namespaces/default/deployments/web") is None
    assert f.take_failure("PATCH", "/api/v1/namespaces/default/services/web") is None
    assert f.take_failure("PATCH", "/apis/apps/v1/namespaces/default/deployments/web") == 500
    assert f.take_failure("PATCH", "/apis/apps/v1/namespaces/default/deployments/web") == 500
    assert f.take_failure("PATCH", "/apis/apps/v1/namespaces/default/deployments/web") is None
    assert f.injected == 2 and f.state()["fail_next"] == []


def test_fail_for_is_an_outage_that_ends() -> None:
    f = Faults()
    f.fail_for(0.3)
    assert [f.take_failure("GET") for _ in range(5)] == [503] * 5
    time.sleep(0.35)
    assert f.take_failure("GET") is None


def test_conflicts_only_hit_writes_and_delay_counts_down() -> None:
    f = Faults()
    f.conflict_next_write(2)
    assert not f.take_conflict("GET")
    assert f.take_conflict("PUT") and f.take_conflict("DELETE") and not f.take_conflict("PATCH")
    f.delay(0.25, n=2)
    assert [f.take_delay() for _ in range(3)] == [0.25, 0.25, 0.0]
    f.delay(0.1)
    f.clear()
    assert f.take_delay() == 0.0


@pytest.mark.parametrize("bad", [{"n": -1}, {"status": 200}])
def test_bad_knob_values_are_refused(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        Faults().fail_next(**bad)  # type: ignore[arg-type]


def test_configure_is_the_http_form() -> None:
    f = Faults()
    f.configure({"fail_next": 1, "status": 500, "path": "/pods", "conflict_next_write": 1, "delay": 0.5,
                 "delay_count": 1, "drop_watches": True})  # fmt: skip
    state = f.state()
    assert state["fail_next"][0]["path"] == "/pods" and state["conflict_next_write"] == 1
    assert state["watch_epoch"] == 1 and state["delay"] == 0.5
    f.configure({"clear": True})
    assert f.state()["fail_next"] == [] and f.state()["delay"] == 0.0


def test_client_sees_an_outage_then_recovery(sandbox: Sandbox) -> None:
    sandbox.apply(deployment(replicas=1))
    api_client = config.new_client_from_config(config_file=str(sandbox.kubeconfig_path))
    apps = client.AppsV1Api(api_client)
    sandbox.faults.fail_for(0.4, status=503, path="/deployments")
    start = time.monotonic()
    failures = 0
    while True:
        try:
            apps.read_namespaced_deployment("web", "default")
            break
        except client.ApiException as exc:
            assert exc.status == 503
            failures += 1
            time.sleep(0.05)
    assert failures >= 3 and 0.35 <= time.monotonic() - start < 3
    assert client.VersionApi(api_client).get_code().major == "1"  # /version was never part of the outage
    api_client.close()
