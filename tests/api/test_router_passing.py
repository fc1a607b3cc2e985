"""A node that is not the cluster's router passes the queue, agent and desk requests on to the router node's API,
redirects the pages there, and answers everything read from the database itself."""

from __future__ import annotations

import pytest

from tests.api.conftest import AUTH, MakeClient
from tests.api.fake import FakeControlPlane
from voxcenter.api.cluster import for_the_router


@pytest.mark.parametrize(("path", "router"), [
    ("/api/queues", True), ("/api/queues/sales", True), ("/api/agents/1001/pause", True),
    ("/api/callbacks", True), ("/api/desk/login", True), ("/api/calls", True), ("/api/supervisors/s1", True),
    ("/wallboard", True), ("/", True), ("/agent", True), ("/api/wallboard/ws", True),
    ("/api/cdrs", False), ("/api/cluster", False), ("/metrics", False), ("/healthz", False),
    ("/api/reload", False), ("/api/queuesx", False), ("/agent/cjs.js", False), ("/api/customers", False),
])
def test_what_the_router_answers(path: str, router: bool) -> None:
    assert for_the_router(path) is router


async def test_the_router_is_asked_and_its_answer_given_back(make_client: MakeClient) -> None:
    router_control = FakeControlPlane()
    router = await make_client(router_control)
    base = str(router.make_url("")).rstrip("/")
    follower = await make_client(FakeControlPlane(), router=lambda: ("node-a", base))
    answer = await follower.get("/api/queues", headers=AUTH)
    assert (answer.status, answer.headers["X-Voxcenter-Node"]) == (200, "node-a")
    assert await answer.json() == await (await router.get("/api/queues", headers=AUTH)).json()
    refused = await follower.get("/api/agents", headers={"Authorization": "Bearer wrong"})
    assert refused.status == 401  # the router checks the token
    page = await follower.get("/wallboard?token=x", allow_redirects=False)
    assert (page.status, page.headers["Location"]) == (307, f"{base}/wallboard?token=x")
    local = await follower.get("/healthz")
    assert local.status == 200 and "X-Voxcenter-Node" not in local.headers


async def test_a_router_that_does_not_answer_is_a_503(make_client: MakeClient) -> None:
    follower = await make_client(FakeControlPlane(), router=lambda: ("node-a", "http://127.0.0.1:9"))
    answer = await follower.get("/api/agents", headers=AUTH)
    assert answer.status == 503 and "node-a" in (await answer.json())["error"]


async def test_the_router_itself_answers_for_itself(make_client: MakeClient) -> None:
    client = await make_client(FakeControlPlane(), router=lambda: None)
    answer = await client.get("/api/queues", headers=AUTH)
    assert answer.status == 200 and "X-Voxcenter-Node" not in answer.headers
