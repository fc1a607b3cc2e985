"""The agent desk's API: sign-in with the phone's credentials, the agent's state and call (screen pop), the customer
and interaction API (written through the durable writer to SQLite), follow-up callbacks and the history search."""

from __future__ import annotations

import asyncio
import hashlib
import textwrap
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.api.fake import FakeControlPlane
from tests.reports.dataset import load
from voxcenter.acd import CallRequest
from voxcenter.api import ApiSettings, create_app
from voxcenter.api.app import ApiToken
from voxcenter.api.control import CallSnapshot
from voxcenter.api.desk import (
    AgentSecret,
    DeskSessions,
    DeskSettings,
    TransferNotPossible,
    password_matches,
    token_digest,
)
from voxcenter.config import load_config
from voxcenter.runtime.control import ServerControl
from voxcenter.store import commands as store_commands
from voxcenter.store.db import make_engine
from voxcenter.store.records import CallbackRecord, CallRecord, DeskSessionRecord, Record
from voxcenter.store.writer import DurableWriter

ADMIN, AGENT = "admin-token-0123456789", "agent-1001-token-0123"
OUTCOMES = {"sale": "Sale", "info": "Information given"}
CUSTOMER = "+33140001"


@dataclass
class FakeDesk:
    writer: DurableWriter
    events: list[tuple[str, dict[str, object]]] = field(default_factory=list)
    holds: list[tuple[str, str, bool | str]] = field(default_factory=list)
    library: Path | None = None
    consult_answered: bool = True

    def desk_settings(self) -> DeskSettings:
        ha1 = hashlib.md5(b"1002:voxcenter:pw-1002").hexdigest()
        return DeskSettings(outcomes=OUTCOMES, pause_reasons=("lunch", "training"),
                            secrets={"1001": AgentSecret("pw-1001", None, "voxcenter"),
                                     "1002": AgentSecret(None, ha1, "voxcenter")},
                            phone={"transport": "ws", "host": None, "port": 5066}, phone_library=self.library)

    def submit(self, record: Record) -> None:
        self.writer.submit(record)

    def event(self, name: str, data: dict[str, object]) -> None:
        self.events.append((name, data))

    def hold_call(self, call_id: str, agent_id: str, held: bool) -> bool:
        self.holds.append((call_id, agent_id, held))
        return True

    def transfer_call(self, call_id: str, agent_id: str, number: str, *, conference: bool = False,
                      consult: bool = False) -> None:
        if number == agent_id:
            raise TransferNotPossible(403, "Cannot Transfer To Yourself")
        self.holds.append((call_id, number, "consult" if consult else conference))

    def end_consultation(self, call_id: str, agent_id: str, complete: bool) -> None:
        if complete and self.consult_answered is False:
            raise TransferNotPossible(409, "1002 Has Not Answered Yet")
        self.holds.append((call_id, agent_id, "complete" if complete else "cancel"))


class Desk:
    def __init__(self, client: TestClient[Any, Any], control: FakeControlPlane, desk: FakeDesk) -> None:
        self.client, self.control, self.desk = client, control, desk

    async def call(self, method: str, path: str, token: str | None = AGENT, body: object = None,
                   status: int = 200) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.client.request(method, path, headers=headers, json=body)
        answer = await response.json()
        assert response.status == status, (method, path, answer)
        return answer

    async def flushed(self) -> None:
        assert await self.desk.writer.flush(5.0)


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    url = f"sqlite:///{tmp_path / 'records.db'}"
    assert await asyncio.to_thread(store_commands.run, ["db", "upgrade", "--database", url]) == 0
    now = time.time()
    earlier = [CallRecord(call_id="OLD1", version=2, node="n", direction="inbound", arrived_at=now - 86400,
                          from_number=CUSTOMER, to_number="100", trunk="t", sip_call_id="x", agent="1003",
                          queue="sales", ended_at=now - 86000, disposition="answered"),
               CallRecord(call_id="MINE1", version=2, node="n", direction="inbound", arrived_at=now - 3600,
                          from_number="+4420790001", to_number="100", trunk="t", sip_call_id="y", agent="1001",
                          queue="sales", ended_at=now - 3500, disposition="answered")]
    await asyncio.to_thread(lambda: asyncio.run(load(url, list(earlier))))
    writer = DurableWriter(tmp_path / "journal", url, flush_interval=0.01)
    await writer.start()
    control = FakeControlPlane()
    control.engine = make_engine(url)
    booked: list[CallbackRecord] = []

    def book_callback(number: str, queue: str, due_at: float | None, data: str | None) -> CallbackRecord:
        if queue not in ("sales", "support"):
            raise KeyError(f"unknown queue {queue!r}")
        record = CallbackRecord(callback_id=f"CB{len(booked) + 1}", version=1, call_id="", number=number,
                                queue=queue, requested_at=time.time(), due_at=due_at, source="api",
                                customer_data=data)
        booked.append(record)
        return record

    control.book_callback = book_callback  # type: ignore[attr-defined]
    control.booked = booked  # type: ignore[attr-defined]
    fake = FakeDesk(writer)
    app = create_app(control, ApiSettings(token=ADMIN, tokens=(ApiToken(AGENT, "agent", "1001"),)), desk=fake)
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    await client.start_server()
    yield Desk(client, control, fake)
    await client.close()
    await writer.close()
    await control.engine.dispose()


async def test_an_agent_signs_in_with_its_phone_credentials_and_sees_only_itself(desk: Desk) -> None:
    page = await desk.client.get("/agent")
    assert page.status == 200 and "voxcenter agent" in await page.text()
    await desk.call("POST", "/api/desk/login", None, {"agent": "1001", "password": "nope"}, 401)
    signed = await desk.call("POST", "/api/desk/login", None, {"agent": "1001", "password": "pw-1001"})
    assert signed["agent"] == "1001" and signed["expires_in"] > 0
    # an agent whose dial plan keeps only the HA1 signs in with the password too
    assert (await desk.call("POST", "/api/desk/login", None, {"agent": "1002", "password": "pw-1002"}))["token"]
    token = signed["token"]
    state = await desk.call("GET", "/api/desk", token)
    assert state["agent"]["id"] == "1001" and state["pause_reasons"] == ["lunch", "training"]
    assert state["outcomes"] == OUTCOMES and state["call"] is None
    await desk.call("GET", "/api/agents/1002", token, status=403)
    await desk.call("POST", "/api/desk/logout", token)
    await desk.call("GET", "/api/desk", token, status=401)
    # a token the API issues (a supervisor's or admin's) works the same
    issued = await desk.call("POST", "/api/desk/tokens", ADMIN, {"agent": "1002"}, 201)
    assert (await desk.call("GET", "/api/desk", issued["token"]))["agent"]["id"] == "1002"
    await desk.call("POST", "/api/desk/tokens", ADMIN, {"agent": "9999"}, 404)
    await desk.call("POST", "/api/desk/tokens", AGENT, {"agent": "1001"}, 403)
    # five wrong passwords in a minute: sign-in is refused for a while, even with the right one
    for _ in range(5):
        await desk.call("POST", "/api/desk/login", None, {"agent": "1001", "password": "guess"}, 401)
    await desk.call("POST", "/api/desk/login", None, {"agent": "1001", "password": "pw-1001"}, 429)


async def test_ready_pause_and_ready_now_after_a_call_with_the_wrap_up_countdown(desk: Desk) -> None:
    desk.control.register("1001")
    assert (await desk.call("POST", "/api/agents/1001/ready"))["state"] == "ready"
    assert (await desk.call("POST", "/api/agents/1001/pause", body={"reason": "lunch"}))["reason"] == "lunch"
    assert (await desk.call("POST", "/api/agents/1001/ready"))["state"] == "ready"
    desk.control.live["C1"] = CallSnapshot("C1", CUSTOMER, "100", "queued", "sales", None, desk.control.clock, "fr",
                                           ivr_path=("main [1]", "account"), entered=(("account", "****"),),
                                           client="Acme Travel")
    desk.control.router.caller_joined(CallRequest("C1", "sales", caller=CUSTOMER), desk.control.clock)
    desk.control.pump()
    desk.control.advance(3)
    offered = (await desk.call("GET", "/api/desk"))["call"]
    assert offered["phase"] == "offered" and offered["caller"] == CUSTOMER and offered["client"] == "Acme Travel"
    assert offered["ivr_path"] == ["main [1]", "account"] and offered["entered"] == {"account": "****"}
    assert offered["queue"] == "sales" and offered["waited"] == 3.0
    desk.control.answer("C1", "1001")
    assert (await desk.call("GET", "/api/desk"))["call"]["phase"] == "talking"
    assert (await desk.call("POST", "/api/desk/hold"))["held"] is True
    assert (await desk.call("POST", "/api/desk/unhold"))["held"] is False
    assert desk.desk.holds == [("C1", "1001", True), ("C1", "1001", False)]
    assert "Yourself" in (await desk.call("POST", "/api/desk/transfer", body={"to": "1001"}, status=403))["error"]
    await desk.call("POST", "/api/desk/transfer", body={"too": "1002"}, status=400)
    assert (await desk.call("POST", "/api/desk/conference", body={"to": "1003"}, status=202))["status"] == "adding"
    assert (await desk.call("POST", "/api/desk/transfer", body={"to": "1002"}, status=202))["to"] == "1002"
    assert desk.desk.holds[-2:] == [("C1", "1003", True), ("C1", "1002", False)]
    await desk.call("POST", "/api/desk/consult/complete", status=409)  # consulting nobody yet
    assert (await desk.call("POST", "/api/desk/consult", body={"to": "1002"}, status=202))["status"] == "consulting"
    desk.control.live["C1"] = replace(desk.control.live["C1"], consulting=("1002", "ringing"))
    assert (await desk.call("GET", "/api/desk"))["call"]["consulting"] == {"target": "1002", "phase": "ringing"}
    desk.desk.consult_answered = False
    assert "Not Answered" in (await desk.call("POST", "/api/desk/consult/complete", status=409))["error"]
    desk.desk.consult_answered = True
    assert (await desk.call("POST", "/api/desk/consult/cancel", status=202))["status"] == "back to the caller"
    assert (await desk.call("POST", "/api/desk/consult/complete", status=202))["status"] == "transferring"
    assert desk.desk.holds[-3:] == [("C1", "1002", "consult"), ("C1", "1001", "cancel"), ("C1", "1001", "complete")]
    assert (await desk.call("POST", "/api/desk/hangup", status=202))["call_id"] == "C1"
    desk.control.hang_up_caller("C1")
    state = await desk.call("GET", "/api/desk")
    assert state["agent"]["state"] == "wrap-up" and state["wrap_up_left"] == 10.0 and state["call"] is None
    desk.control.advance(4)
    assert (await desk.call("GET", "/api/desk"))["wrap_up_left"] == 6.0
    await desk.call("POST", "/api/desk/hangup", status=409)
    await desk.call("POST", "/api/desk/hold", status=409)
    assert (await desk.call("POST", "/api/agents/1001/ready"))["state"] == "ready"
    # a caller transferred to the agent (not through the queue) is its call too
    desk.control.live["C2"] = CallSnapshot("C2", "+4420790002", "100", "talking", "sales", "1003", desk.control.clock,
                                           "en", talking_to="1001")
    transferred = (await desk.call("GET", "/api/desk"))["call"]
    assert (transferred["call_id"], transferred["phase"]) == ("C2", "talking")


async def test_customers_and_interactions_are_written_and_read_back(desk: Desk) -> None:
    await desk.call("POST", "/api/customers", body={"name": "Ada"}, status=400)
    await desk.call("POST", "/api/customers", body={"number": CUSTOMER, "nmae": "Ada"}, status=400)
    ada = await desk.call("POST", "/api/customers", body={"number": CUSTOMER, "name": "Ada", "language": "fr"},
                          status=201)
    # captured during the call: the company; an update before the writer flushed still follows it
    changed = await desk.call("PATCH", f"/api/customers/{ada['customer_id']}", body={"company": "Acme"})
    assert (changed["version"], changed["name"], changed["company"]) == (2, "Ada", "Acme")
    await desk.call("POST", "/api/interactions", body={"call_id": "C9", "outcome": "won"}, status=400)
    await desk.call("POST", "/api/interactions", body={"call_id": "C9", "ticket_status": "done"}, status=400)
    await desk.call("POST", "/api/interactions", body={"call_id": "C9", "agent": "1002"}, status=403)
    saved = await desk.call("POST", "/api/interactions", status=201, body={
        "call_id": "C9", "customer_id": ada["customer_id"], "number": CUSTOMER, "reason": "refund",
        "notes": "wants a refund for the March invoice", "outcome": "info"})
    assert (saved["agent"], saved["ticket_status"], saved["version"]) == ("1001", "open", 1)
    assert desk.desk.events == [("interaction.saved", saved)]
    resolved = await desk.call("PATCH", f"/api/interactions/{saved['interaction_id']}",
                               body={"ticket_status": "resolved"})
    assert (resolved["version"], resolved["notes"], resolved["ticket_status"]) == (2, saved["notes"], "resolved")
    await desk.flushed()
    found = (await desk.call("GET", f"/api/customers?number={CUSTOMER.replace('+', '%2B')}&history=1"))["customers"]
    assert [c["company"] for c in found] == ["Acme"]
    [history] = found
    assert history["last_agent"] == "1003" and history["calls"] == 1
    assert [(i["notes"], i["outcome"], i["ticket_status"]) for i in history["interactions"]] == \
        [("wants a refund for the March invoice", "info", "resolved")]
    assert (await desk.call("GET", f"/api/customers/{ada['customer_id']}"))["interactions"][0]["version"] == 2
    assert (await desk.call("GET", "/api/customers?q=acm"))["customers"][0]["name"] == "Ada"
    # another agent's interaction is not theirs to change
    other = await desk.call("POST", "/api/interactions", ADMIN, {"call_id": "C8", "agent": "1002"}, 201)
    await desk.call("PATCH", f"/api/interactions/{other['interaction_id']}", body={"notes": "x"}, status=403)


async def test_a_follow_up_books_a_callback_and_the_history_search_finds_the_agents_calls(desk: Desk) -> None:
    due = time.time() + 7200
    await desk.call("POST", "/api/interactions", status=404, body={
        "call_id": "MINE1", "number": "+4420790001", "follow_up": {"at": due, "queue": "nowhere"}})
    saved = await desk.call("POST", "/api/interactions", status=201, body={
        "call_id": "MINE1", "number": "+4420790001", "notes": "call back with the quote", "outcome": "sale",
        "follow_up": {"at": due, "queue": "sales"}})
    assert (saved["ticket_status"], saved["follow_up_at"], saved["callback_id"]) == ("needs_follow_up", due, "CB1")
    [booked] = desk.control.booked  # type: ignore[attr-defined]
    assert (booked.number, booked.queue, booked.due_at) == ("+4420790001", "sales", due)
    await desk.flushed()
    calls = (await desk.call("GET", "/api/desk/history"))["calls"]
    assert [c["call_id"] for c in calls] == ["MINE1"]  # OLD1 was agent 1003's
    assert calls[0]["interaction"]["notes"] == "call back with the quote"
    assert [c["call_id"] for c in (await desk.call("GET", "/api/desk/history?q=QUOTE"))["calls"]] == ["MINE1"]
    assert (await desk.call("GET", "/api/desk/history?q=nothing-like-it"))["calls"] == []
    mine = (await desk.call("GET", "/api/interactions"))["interactions"]
    assert [i["interaction_id"] for i in mine] == [saved["interaction_id"]]


def test_the_dial_plan_gives_the_desk_its_outcomes_pause_reasons_and_agents_secrets(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(textwrap.dedent(f"""\
        numbers: {{'100': {{node: q, client: Acme Travel}}}}
        ivr: {{q: {{type: queue, queue: sales}}}}
        queues: {{sales: {{}}}}
        agents:
          '1001': {{name: Alice, password: pw-1001, queues: [sales]}}
          '1002': {{name: Bob, ha1: {hashlib.md5(b"1002:voxcenter:pw-1002").hexdigest()}, queues: [sales]}}
        feature_codes: {{pause_reasons: {{'1': lunch, '2': training}}}}
        desk: {{outcomes: {{sale: Sale, info: Information given}}}}
        """))
    config = load_config(plan, check_prompts=False)
    assert config.numbers["100"].client == "Acme Travel"
    control = ServerControl(None, {}, lambda: config, None, database_url=None)  # type: ignore[arg-type]
    settings = control.desk_settings()
    assert settings.outcomes == OUTCOMES and settings.pause_reasons == ("lunch", "training")
    assert password_matches(settings.secrets["1001"], "1001", "pw-1001")
    assert password_matches(settings.secrets["1002"], "1002", "pw-1002")
    assert not password_matches(settings.secrets["1002"], "1002", "pw-1001")


async def test_the_browser_phone_library_is_served_from_its_directory_and_nothing_else(
        desk: Desk, tmp_path: Path) -> None:
    assert (await desk.client.get("/node_modules/jssip/package.json")).status == 404  # none configured
    assert (await desk.call("GET", "/api/desk"))["phone"] is None
    library = tmp_path / "web" / "node_modules"
    (library / "jssip" / "lib").mkdir(parents=True)
    (library / "jssip" / "lib" / "JsSIP.js").write_text("module.exports = {};")
    (library / "jssip" / "README.md").write_text("not served")
    desk.desk.library = library
    served = await desk.client.get("/node_modules/jssip/lib/JsSIP.js")
    assert served.status == 200 and await served.text() == "module.exports = {};"
    assert (await desk.client.get("/node_modules/jssip/README.md")).status == 404
    assert (await desk.client.get("/node_modules/..%2F..%2Frecords.db")).status == 404
    assert (await desk.client.get("/agent/cjs.js")).status == 200
    assert (await desk.call("GET", "/api/desk"))["phone"] == {"transport": "ws", "host": None, "port": 5066}


def test_desk_sign_ins_are_handed_to_the_writer_by_digest_and_restored_until_they_expire() -> None:
    now = [1_000_000.0]
    written: list[DeskSessionRecord] = []
    sessions = DeskSessions(clock=lambda: now[0], sink=written.append)
    token, lifetime = sessions.issue("1001")
    kept, signed_out = sessions.issue("1002")[0], sessions.issue("1003")[0]
    sessions.revoke(signed_out)
    assert [(r.agent, r.version, r.revoked) for r in written] == [
        ("1001", 1, False), ("1002", 1, False), ("1003", 1, False), ("1003", 2, True)]
    assert written[0].token_hash == token_digest(token) and token not in repr(written)
    assert written[0].expires_at == now[0] + lifetime
    # A new process: what the database kept (the last version of each row) is put back.
    latest = {record.token_hash: record for record in written}
    restarted = DeskSessions(clock=lambda: now[0])
    assert restarted.restore(latest.values()) == 2
    assert (restarted.agent_of(token), restarted.agent_of(kept), restarted.agent_of(signed_out)) == ("1001", "1002",
                                                                                                    None)
    restarted.revoke(kept)
    assert restarted.agent_of(kept) is None
    now[0] += lifetime
    assert restarted.agent_of(token) is None  # expired
    assert DeskSessions(clock=lambda: now[0]).restore(latest.values()) == 0
