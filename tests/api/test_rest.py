"""Queues, agents, calls, agent commands and reload over HTTP."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.conftest import AUTH, Client
from tests.api.fake import FakeControlPlane
from voxcenter.acd import AgentState
from voxcenter.acd.estimate import estimate_wait
from voxcenter.config import ConfigError, ConfigIssue


async def get_json(client: Client, path: str, status: int = 200) -> dict[str, Any]:
    response = await client.get(path, headers=AUTH)
    assert response.status == status, await response.text()
    assert response.content_type == "application/json"
    body: dict[str, Any] = await response.json()
    return body


async def post(
    client: Client, path: str, status: int, headers: dict[str, str] | None = None, **kwargs: Any
) -> dict[str, Any]:
    response = await client.post(path, headers={**AUTH, **(headers or {})}, **kwargs)
    assert response.status == status, await response.text()
    assert response.content_type == "application/json"
    body: dict[str, Any] = await response.json()
    return body


async def test_queues_list_shows_live_figures(client: Client, control: FakeControlPlane) -> None:
    control.staff("1001", "1002")
    control.join("c1", "sales")
    control.answer("c1", control.ringing_agent("c1"))
    control.join("c2", "support")
    control.advance(12.0)
    body = await get_json(client, "/api/queues")
    queues = {q["name"]: q for q in body["queues"]}
    assert set(queues) == {"sales", "support"}
    assert queues["sales"]["answered"] == 1 and queues["sales"]["service_level"] == 1.0
    assert queues["sales"]["asa"] == 0.0
    assert queues["sales"]["agents"]["on-call"] == 1
    support = queues["support"]
    assert support["answered"] == 0 and support["calls_waiting"] == 1  # ringing 1002, still waiting
    assert support["longest_wait"] == pytest.approx(12.0)
    assert support["service_level"] is None and support["asa"] is None


async def test_queue_detail_lists_waiting_callers_with_position_wait_and_ewt(
    client: Client, control: FakeControlPlane
) -> None:
    control.staff("1003")
    control.join("c1", "support")
    control.answer("c1", "1003")
    control.advance(5.0)
    control.join("c2", "support")
    control.advance(7.0)
    control.join("c3", "support")
    control.advance(3.0)
    body = await get_json(client, "/api/queues/support")
    assert body["calls_waiting"] == 2
    assert body["longest_wait"] == pytest.approx(10.0)
    waiting = body["waiting"]
    assert [w["call_id"] for w in waiting] == ["c2", "c3"]
    assert [w["position"] for w in waiting] == [1, 2]
    assert [w["wait"] for w in waiting] == [pytest.approx(10.0), pytest.approx(3.0)]
    # one staffed agent, default handle time 180 s, nobody hung up yet: the router's estimate for 1 and 2 steps
    expected = [estimate_wait(ahead, 0, 0, 1, 180.0) or 0.0 for ahead in (0, 1)]
    assert [w["ewt"] for w in waiting] == expected and 0.0 < expected[0] < expected[1]
    assert all(w["callback"] is False for w in waiting)


async def test_queue_detail_ewt_is_unknown_without_staff(client: Client, control: FakeControlPlane) -> None:
    control.join("c1", "support")  # join_empty: nobody logged in
    body = await get_json(client, "/api/queues/support")
    assert body["waiting"][0]["ewt"] is None


async def test_unknown_queue_is_404(client: Client) -> None:
    body = await get_json(client, "/api/queues/nope", status=404)
    assert body == {"error": "unknown queue 'nope'"}


async def test_agents_list_and_detail(client: Client, control: FakeControlPlane) -> None:
    control.staff("1001")
    control.advance(42.0)
    body = await get_json(client, "/api/agents")
    agents = {a["id"]: a for a in body["agents"]}
    assert list(agents) == ["1001", "1002", "1003", "1004"]
    assert agents["1001"]["state"] == "ready" and agents["1001"]["reachable"] is True
    assert agents["1001"]["in_state"] == pytest.approx(42.0)
    assert agents["1002"]["state"] == "offline" and agents["1002"]["queues"] == ["sales", "support"]
    one = await get_json(client, "/api/agents/1001")
    assert one == agents["1001"]


async def test_unknown_agent_is_404(client: Client) -> None:
    assert (await get_json(client, "/api/agents/9999", status=404)) == {"error": "unknown agent '9999'"}
    body = await post(client, "/api/agents/9999/login", 404)
    assert body == {"error": "unknown agent '9999'"}


async def test_login_pause_unpause_logout(client: Client, control: FakeControlPlane) -> None:
    control.register("1001")
    assert (await post(client, "/api/agents/1001/login", 200))["state"] == "ready"
    control.advance(30.0)
    paused = await post(client, "/api/agents/1001/pause", 200, json={"reason": "lunch"})
    assert paused["state"] == "paused" and paused["reason"] == "lunch" and paused["in_state"] == 0.0
    assert control.router.agent_state("1001") is AgentState.PAUSED
    assert (await post(client, "/api/agents/1001/unpause", 200))["reason"] == ""
    assert (await post(client, "/api/agents/1001/logout", 200))["state"] == "offline"
    assert control.commands == [("1001", "login", None), ("1001", "pause", "lunch"), ("1001", "unpause", None),
                                ("1001", "logout", None)]


async def test_an_agent_without_a_registered_phone_cannot_log_in_and_is_shown_unavailable(
    client: Client, control: FakeControlPlane
) -> None:
    body = await post(client, "/api/agents/1003/login", 409)
    assert body == {"error": "agent '1003' cannot log in: its phone has no registration"}
    assert control.router.agent_state("1003") is AgentState.OFFLINE
    control.staff("1003", "1004")
    control.unregister("1003")  # the registration went away: logged in, but nobody can ring it
    agent = await get_json(client, "/api/agents/1003")
    assert (agent["state"], agent["reachable"], agent["reason"]) == ("unavailable", False, "phone not registered")
    [support] = [q for q in (await get_json(client, "/api/queues"))["queues"] if q["name"] == "support"]
    assert (support["agents"]["ready"], support["agents"]["unavailable"]) == (1, 1)
    control.register("1003")
    assert (await get_json(client, "/api/agents/1003"))["state"] == "ready"


async def test_logout_during_a_call_waits_for_its_end(client: Client, control: FakeControlPlane) -> None:
    control.staff("1001")
    control.join("c1", "sales")
    control.answer("c1", "1001")
    assert (await post(client, "/api/agents/1001/logout", 200))["state"] == "on-call"
    control.hang_up_caller("c1")
    control.advance(10.0)  # sales wrap-up
    assert (await get_json(client, "/api/agents/1001"))["state"] == "offline"
    assert (await get_json(client, "/api/agents/1001"))["calls_handled"] == 1


async def test_illegal_transition_is_409_with_the_routers_message(client: Client) -> None:
    body = await post(client, "/api/agents/1001/pause", 409, json={"reason": "coffee"})
    assert body == {"error": "agent '1001' is not logged in and cannot pause"}


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'"lunch"', "must be a JSON object"),
        (b'{"reason": 5}', "'reason' must be"),
        (b'{"reason": ""}', "'reason' must be"),
        (b'{"reason": "' + b"x" * 201 + b'"}', "'reason' must be"),
        (b'{"reason": "lunch", "until": 5}', "unknown field"),
    ],
)
async def test_bad_bodies_are_400(client: Client, control: FakeControlPlane, data: bytes, fragment: str) -> None:
    control.staff("1001")
    body = await post(client, "/api/agents/1001/pause", 400, data=data, headers={"Content-Type": "application/json"})
    assert fragment in body["error"]
    assert control.router.agent_state("1001") is AgentState.READY


async def test_too_large_a_body_is_413(client: Client) -> None:
    body = await post(client, "/api/agents/1001/pause", 413, data=b"x" * 100_000)
    assert body["error"]


async def test_unknown_command_path_and_method(client: Client) -> None:
    assert "no such path" in (await post(client, "/api/agents/1001/dance", 404))["error"]
    response = await client.get("/api/agents/1001/login", headers=AUTH)
    assert response.status in (404, 405) and "error" in await response.json()
    response = await client.delete("/api/queues", headers=AUTH)
    assert response.status == 405
    assert (await response.json()) == {"error": "method not allowed"}


async def test_a_failing_control_plane_gives_500_without_a_traceback(
    client: Client, control: FakeControlPlane, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> list[object]:
        raise RuntimeError("database exploded at /secret/path")

    monkeypatch.setattr(control, "calls", broken)
    response = await client.get("/api/calls", headers=AUTH)
    assert response.status == 500
    text = await response.text()
    assert "Traceback" not in text and "secret" not in text
    assert (await response.json())["error"].startswith("internal error")


async def test_calls(client: Client, control: FakeControlPlane) -> None:
    control.staff("1001")
    control.join("c1", "sales", caller="+15550199")
    control.answer("c1", "1001")
    control.advance(61.5)
    body = await get_json(client, "/api/calls")
    assert body == {"calls": [{"call_id": "c1", "caller": "+15550199", "called": "+15551000", "state": "connected",
                               "queue": "sales", "agent": "1001", "duration": 61.5, "language": "en",
                               "recording": None, "monitored_by": []}]}
    # A supervisor listens to 1001 while the recording is paused: the call and the agent say so.
    control.live["c1"] = replace(control.live["c1"], recording="paused", monitors=(("1009", "1001", "listen"),))
    [call] = (await get_json(client, "/api/calls"))["calls"]
    assert (call["recording"], call["monitored_by"]) == (
        "paused", [{"supervisor": "1009", "agent": "1001", "mode": "listen"}])
    [agent] = [a for a in (await get_json(client, "/api/agents"))["agents"] if a["id"] == "1001"]
    assert (agent["recording"], agent["monitored_by"]) == ("paused", [{"supervisor": "1009", "mode": "listen"}])


async def test_reload_returns_warnings(client: Client, control: FakeControlPlane) -> None:
    control.reload_warnings = [ConfigIssue("plan.yaml", 12, 5, "queue 'x' has no agents", "warning")]
    body = await post(client, "/api/reload", 200)
    assert body["status"] == "reloaded"
    assert body["warnings"] == ["plan.yaml:12:5: warning: queue 'x' has no agents"]


async def test_reload_refused_is_422_with_located_errors(client: Client, control: FakeControlPlane) -> None:
    control.reload_error = ConfigError([
        ConfigIssue("plan.yaml", 3, 7, "unknown key 'queus'"),
        ConfigIssue("inc/queues.yaml", 40, 9, "ring_timeout must be > 0"),
    ])
    body = await post(client, "/api/reload", 422)
    assert body["errors"] == ["plan.yaml:3:7: unknown key 'queus'", "inc/queues.yaml:40:9: ring_timeout must be > 0"]
    assert "refused" in body["error"]


async def test_a_second_reload_while_one_runs_is_409(client: Client, control: FakeControlPlane) -> None:
    control.reload_gate = asyncio.Event()
    first = asyncio.ensure_future(client.post("/api/reload", headers=AUTH))
    while control.reloads == 0:
        await asyncio.sleep(0.01)
    body = await post(client, "/api/reload", 409)
    assert body == {"error": "a reload is already in progress"}
    control.reload_gate.set()
    assert (await first).status == 200
    assert control.reloads == 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.one_of(
        st.binary(max_size=40),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=8),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["reason", "r", ""]), inner,
                                                                        max_size=2),
            max_leaves=6,
        ).map(lambda value: json.dumps(value).encode()),
    ),
    command=st.sampled_from(["login", "logout", "pause", "unpause"]),
)
async def test_any_body_gets_a_json_answer_never_a_500(
    client: Client, control: FakeControlPlane, body: bytes, command: str
) -> None:
    response = await client.post(f"/api/agents/1002/{command}", headers=AUTH, data=body)
    assert response.status in (200, 400, 409)
    answer = await response.json()
    assert ("error" in answer) == (response.status != 200)
