import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voxcenter.sip.dialog import new_request
from voxcenter.sip.errors import LocalProtocolError
from voxcenter.sip.message import Request, Response, make_response, parse_message
from voxcenter.sip.transaction import (
    INVITE_CLIENT,
    INVITE_SERVER,
    NON_INVITE_CLIENT,
    NON_INVITE_SERVER,
    AckReceived,
    CancelReceived,
    MessageRejected,
    RequestReceived,
    ResponseReceived,
    ServerTransaction,
    Stimulus,
    StrayResponse,
    Transaction,
    TransactionLayer,
    TransactionState,
    TransactionTerminated,
    TransactionTimedOut,
    TransportFailed,
    make_cancel,
    make_non2xx_ack,
)
from voxcenter.sip.uri import parse_name_addr, parse_uri

S = TransactionState
PEER = ("udp", "b.test", 5060)
ME = ("udp", "a.test", 5060)


def layer(seed: int = 1) -> TransactionLayer:
    return TransactionLayer(rng=random.Random(seed))


def request(method: str = "INVITE", seed: int = 7) -> Request:
    return new_request(
        method, parse_uri("sip:bob@b.test"), from_=parse_name_addr("<sip:alice@a.test>"),
        to=parse_name_addr("<sip:bob@b.test>"), via_sent_by="a.test:5060", rng=random.Random(seed),
        contact=parse_name_addr("<sip:alice@a.test:5060>"),
    )


def events(tl: TransactionLayer) -> list[object]:
    out: list[object] = []
    while (event := tl.next_event()) is not None:
        out.append(event)
    return out


def sent(tl: TransactionLayer) -> list[Request | Response]:
    return [parse_message(data) for data, _ in tl.datagrams_to_send()]


def names(messages: list[Request | Response]) -> list[str]:
    return [m.method if isinstance(m, Request) else str(m.status) for m in messages]


def kinds(items: list[object]) -> list[str]:
    return [type(item).__name__ for item in items]


def walk_timers(tl: TransactionLayer, until: float) -> list[tuple[float, list[str]]]:
    """Fire timers up to ``until``: [(time, what was sent)]."""
    steps = []
    while (deadline := tl.get_timer()) is not None and deadline <= until:
        tl.handle_timer(deadline)
        steps.append((deadline, names(sent(tl))))
    return steps


def client_with(method: str = "INVITE", reliable: bool = False) -> tuple[TransactionLayer, Request]:
    tl = layer()
    tl.send_request(request(method), PEER, now=0.0, reliable=reliable)
    (wire,) = sent(tl)
    assert isinstance(wire, Request)
    return tl, wire


# --- client transactions ---------------------------------------------------------------------------------------


def test_branch_is_filled_with_the_magic_cookie_and_is_deterministic_with_a_seed():
    _, first = client_with()
    _, second = client_with()
    assert first.top_via.branch is not None and first.top_via.branch.startswith("z9hG4bK")
    assert len(first.top_via.branch) >= 7 + 16
    assert first.top_via.branch == second.top_via.branch


def test_timer_a_walks_0_5_1_5_3_5_until_timer_b_at_32():
    tl, _ = client_with("INVITE")
    assert tl.get_timer() == 0.5
    steps = walk_timers(tl, 100.0)
    assert [time for time, _ in steps] == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5, 32.0]
    assert all(what == ["INVITE"] for _, what in steps[:-1])
    assert steps[-1][1] == []
    assert kinds(events(tl)) == ["TransactionTimedOut", "TransactionTerminated"]
    assert tl.get_timer() is None and tl.transactions() == []


def test_timer_e_caps_at_t2_and_timer_f_times_out():
    tl, _ = client_with("OPTIONS")
    steps = walk_timers(tl, 100.0)
    times = [time for time, _ in steps]
    assert times == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5, 32.0]
    assert kinds(events(tl)) == ["TransactionTimedOut", "TransactionTerminated"]


def test_timer_e_jumps_to_t2_in_proceeding():
    tl, wire = client_with("OPTIONS")
    tl.receive(make_response(wire, 100), PEER, now=0.2)
    assert tl.transactions()[0].state is S.PROCEEDING
    tl.handle_timer(0.5)
    assert names(sent(tl)) == ["OPTIONS"]
    assert tl.get_timer() == 4.5


def test_reliable_invite_has_no_timer_a_and_ends_at_once_after_a_non_2xx():
    tl, wire = client_with("INVITE", reliable=True)
    assert tl.get_timer() == 32.0  # only Timer B
    tl.receive(make_response(wire, 486, to_tag="x"), PEER, now=1.0)
    assert names(sent(tl)) == ["ACK"]
    assert kinds(events(tl)) == ["ResponseReceived", "TransactionTerminated"]  # Timer D = 0
    assert tl.get_timer() is None


def test_reliable_non_invite_terminates_on_final_response():
    tl, wire = client_with("OPTIONS", reliable=True)
    tl.receive(make_response(wire, 200, to_tag="x"), PEER, now=1.0)
    assert kinds(events(tl)) == ["ResponseReceived", "TransactionTerminated"]  # Timer K = 0


def test_non_2xx_is_acked_by_the_transaction_and_retransmissions_re_ack():
    tl, wire = client_with("INVITE")
    tl.receive(make_response(wire, 180, to_tag="x"), PEER, now=0.1)
    assert tl.get_timer() is None  # A and B stop in PROCEEDING
    final = make_response(wire, 486, to_tag="x")
    tl.receive(final, PEER, now=1.0)
    (ack,) = sent(tl)
    assert isinstance(ack, Request) and ack.method == "ACK"
    assert ack.top_via.branch == wire.top_via.branch  # §17.1.1.3: same branch as the INVITE
    assert ack.to.tag == "x" and str(ack.cseq) == f"{wire.cseq.number} ACK"
    assert str(ack.uri) == str(wire.uri)
    tl.receive(final, PEER, now=2.0)
    assert names(sent(tl)) == ["ACK"]
    assert kinds(events(tl)) == ["ResponseReceived", "ResponseReceived"]  # 180 and 486 only
    assert tl.get_timer() == 33.0  # Timer D
    tl.handle_timer(33.0)
    assert kinds(events(tl)) == ["TransactionTerminated"]


def test_2xx_retransmissions_are_passed_up_in_accepted_and_not_acked_by_the_transaction():
    tl, wire = client_with("INVITE")
    ok = make_response(wire, 200, to_tag="x")
    tl.receive(ok, PEER, now=1.0)
    tl.receive(make_response(wire, 180, to_tag="x"), PEER, now=1.1)  # late 1xx: absorbed
    tl.receive(ok, PEER, now=1.5)  # the UAS retransmits: our ACK was lost
    assert sent(tl) == []
    assert kinds(events(tl)) == ["ResponseReceived", "ResponseReceived"]
    assert tl.transactions()[0].state is S.ACCEPTED
    assert tl.get_timer() == 33.0  # Timer M
    tl.handle_timer(33.0)
    assert kinds(events(tl)) == ["TransactionTerminated"]


def test_stray_response_is_reported():
    tl, wire = client_with("OPTIONS")
    other = make_response(wire, 200)
    other.headers.set("Via", "SIP/2.0/UDP a.test:5060;branch=z9hG4bKnothere")
    tl.receive(other, PEER, now=0.1)
    assert kinds(events(tl)) == ["StrayResponse"]


def test_transport_failure_ends_transactions_to_that_destination():
    tl, _ = client_with("INVITE")
    tl.transport_failed(("udp", "elsewhere", 1), now=0.1)
    assert events(tl) == []
    tl.transport_failed(PEER, now=0.1)
    assert kinds(events(tl)) == ["TransportFailed", "TransactionTerminated"]


def test_local_misuse_raises_local_protocol_error():
    tl, wire = client_with("INVITE")
    with pytest.raises(LocalProtocolError, match="already exists"):
        tl.send_request(wire, PEER, now=0.0)
    ack = request("ACK")
    with pytest.raises(LocalProtocolError, match="not a transaction"):
        tl.send_request(ack, PEER, now=0.0)
    no_via = request("OPTIONS")
    no_via.headers.remove("Via")
    with pytest.raises(LocalProtocolError, match="no Via"):
        tl.send_request(no_via, PEER, now=0.0)
    with pytest.raises(LocalProtocolError, match="only an INVITE"):
        make_cancel(request("OPTIONS"))


# --- server transactions ---------------------------------------------------------------------------------------


def server_with(method: str = "INVITE", reliable: bool = False) -> tuple[TransactionLayer, Request, ServerTransaction]:
    _, wire = client_with(method)
    tl = layer(2)
    tl.receive(wire, ME, now=0.0, reliable=reliable)
    (event,) = events(tl)
    assert isinstance(event, RequestReceived)
    return tl, wire, event.transaction


def test_invite_server_sends_100_trying_after_200_ms_when_the_tu_is_silent():
    tl, wire, _ = server_with()
    assert tl.get_timer() == pytest.approx(0.2)
    tl.handle_timer(0.2)
    (trying,) = sent(tl)
    assert isinstance(trying, Response) and trying.status == 100 and trying.to.tag is None
    tl.receive(wire, ME, now=0.3)  # a retransmitted INVITE gets the 100 again
    assert names(sent(tl)) == ["100"]
    assert events(tl) == []


def test_no_automatic_100_when_the_tu_answered_in_time():
    tl, wire, tx = server_with()
    tl.send_response(tx, make_response(wire, 180, to_tag="u"), now=0.1)
    assert names(sent(tl)) == ["180"]
    assert tl.get_timer() is None


def test_non_2xx_final_is_retransmitted_with_timer_g_until_timer_h():
    tl, wire, tx = server_with()
    tl.send_response(tx, make_response(wire, 486, to_tag="u"), now=0.0)
    sent(tl)
    steps = walk_timers(tl, 100.0)
    assert [time for time, _ in steps] == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5, 32.0]
    assert all(what == ["486"] for _, what in steps[:-1])
    assert kinds(events(tl)) == ["TransactionTimedOut", "TransactionTerminated"]


def test_ack_confirms_and_is_absorbed_then_timer_i():
    tl, wire, tx = server_with()
    final = make_response(wire, 486, to_tag="u")
    tl.send_response(tx, final, now=0.0)
    ack = make_non2xx_ack(wire, final)
    tl.receive(ack, ME, now=0.3)
    tl.receive(ack, ME, now=0.4)
    assert tx.state is S.CONFIRMED
    assert events(tl) == []
    assert tl.get_timer() == pytest.approx(5.3)  # Timer I = T4
    tl.handle_timer(5.3)
    assert kinds(events(tl)) == ["TransactionTerminated"]


def test_accepted_absorbs_invite_retransmissions_and_reports_the_2xx_ack():
    tl, wire, tx = server_with()
    ok = make_response(wire, 200, to_tag="u")
    tl.send_response(tx, ok, now=0.0)
    sent(tl)
    tl.receive(wire, ME, now=0.5)
    assert sent(tl) == [] and events(tl) == []
    tl.send_response(tx, ok, now=0.5)  # the TU's own 2xx retransmission
    assert names(sent(tl)) == ["200"]
    ack = request("ACK")
    ack.headers.set("To", f"{ack.headers.get('To')};tag=u")
    tl.receive(ack, ME, now=0.6)
    assert kinds(events(tl)) == ["AckReceived"]
    assert tl.get_timer() == 32.0  # Timer L
    tl.handle_timer(32.0)
    assert kinds(events(tl)) == ["TransactionTerminated"]


def test_non_invite_server_absorbs_retransmissions_and_replays_the_final():
    tl, wire, tx = server_with("OPTIONS")
    tl.receive(wire, ME, now=0.1)
    assert sent(tl) == []  # TRYING: nothing to replay
    tl.send_response(tx, make_response(wire, 200, to_tag="u"), now=0.2)
    tl.receive(wire, ME, now=0.3)
    assert names(sent(tl)) == ["200", "200"]
    with pytest.raises(LocalProtocolError, match="SEND_2XX is not allowed in state COMPLETED"):
        tl.send_response(tx, make_response(wire, 200, to_tag="u"), now=0.4)
    assert tl.get_timer() == pytest.approx(32.2)  # Timer J
    tl.handle_timer(32.2)
    assert kinds(events(tl)) == ["TransactionTerminated"]


def test_a_stateless_answer_is_sent_once_and_nothing_is_kept():
    # RFC 3261 §8.2.7: an unauthenticated INVITE challenged statelessly costs one datagram, however long the
    # flooder waits without ACKing; a retransmission finds no transaction and is answered again.
    tl, wire, tx = server_with()
    challenge = make_response(wire, 401, to_tag="u")
    tl.send_response_statelessly(tx, challenge, now=0.0)
    assert names(sent(tl)) == ["401"]
    assert tx.state is S.TERMINATED and tl.transactions() == []
    assert tl.get_timer() is None  # no Timer G, H or the 100 Trying
    assert kinds(events(tl)) == ["TransactionTerminated"]
    assert walk_timers(tl, 100.0) == []
    tl.receive(wire, ME, now=0.5)
    (again,) = events(tl)
    assert isinstance(again, RequestReceived) and again.transaction is not tx
    tl.send_response_statelessly(again.transaction, challenge, now=0.5)
    tl.receive(make_non2xx_ack(wire, challenge), ME, now=0.6)
    assert kinds(events(tl)) == ["TransactionTerminated", "AckReceived"]  # the ACK matches nothing: the TU's
    assert names(sent(tl)) == ["401"]


def test_only_an_unanswered_request_can_be_answered_statelessly_and_only_with_a_final_non_2xx():
    tl, wire, tx = server_with("REGISTER")
    for status in (100, 180, 200):
        with pytest.raises(LocalProtocolError, match="final non-2xx"):
            tl.send_response_statelessly(tx, make_response(wire, status, to_tag="u"), now=0.0)
    tl.send_response_statelessly(tx, make_response(wire, 401, to_tag="u"), now=0.0)
    assert tl.transactions() == []
    tl, wire, tx = server_with()
    tl.send_response(tx, make_response(wire, 180, to_tag="u"), now=0.0)
    with pytest.raises(LocalProtocolError, match="already answered"):
        tl.send_response_statelessly(tx, make_response(wire, 486, to_tag="u"), now=0.1)
    # After the automatic 100 Trying (hop by hop) a stateless final is still fine: a challenge sent late.
    tl, wire, tx = server_with()
    tl.handle_timer(0.2)
    tl.send_response_statelessly(tx, make_response(wire, 401, to_tag="u"), now=2.0)
    assert names(sent(tl)) == ["100", "401"] and tl.transactions() == []


def test_reliable_server_timers_are_zero():
    tl, wire, tx = server_with("OPTIONS", reliable=True)
    tl.send_response(tx, make_response(wire, 200, to_tag="u"), now=0.2)
    assert kinds(events(tl)) == ["TransactionTerminated"]
    tl, wire, tx = server_with("INVITE", reliable=True)
    tl.send_response(tx, make_response(wire, 486, to_tag="u"), now=0.0)
    sent(tl)
    assert tl.get_timer() == 32.0  # no Timer G, only H


def test_cancel_of_a_proceeding_invite_carries_the_200_and_487():
    tl, wire, tx = server_with()
    tl.send_response(tx, make_response(wire, 180, to_tag="u"), now=0.0)
    sent(tl)
    cancel = make_cancel(wire)
    tl.receive(cancel, ME, now=1.0)
    (event,) = events(tl)
    assert isinstance(event, CancelReceived) and event.invite_transaction is tx and event.to_tag == "u"
    ok, terminated = event.responses()
    assert (ok.status, str(ok.cseq)) == (200, f"{wire.cseq.number} CANCEL")
    assert (terminated.status, str(terminated.cseq), terminated.to.tag) == (487, f"{wire.cseq.number} INVITE", "u")
    tl.send_response(event.transaction, ok, now=1.0)
    tl.send_response(event.invite_transaction, terminated, now=1.0)
    assert names(sent(tl)) == ["200", "487"]
    assert tx.state is S.COMPLETED


def test_cancel_after_the_final_response_just_gets_200_and_unknown_cancel_481():
    tl, wire, tx = server_with()
    tl.send_response(tx, make_response(wire, 200, to_tag="u"), now=0.0)
    sent(tl)
    tl.receive(make_cancel(wire), ME, now=1.0)
    assert names(sent(tl)) == ["200"]
    assert events(tl) == []
    stranger = make_cancel(request("INVITE", seed=99))
    stranger.headers.set("Via", "SIP/2.0/UDP a.test:5060;branch=z9hG4bKunknown")
    tl.receive(stranger, ME, now=1.0)
    assert names(sent(tl)) == ["481"]


def test_rfc2543_requests_without_magic_cookie_still_match():
    _, wire = client_with("INVITE")
    wire.headers.set("Via", "SIP/2.0/UDP a.test:5060")  # an old UA: no branch at all
    tl = layer(2)
    tl.receive(wire, ME, now=0.0)
    (event,) = events(tl)
    assert isinstance(event, RequestReceived)
    tx = event.transaction
    final = make_response(wire, 603, to_tag="u")
    tl.send_response(tx, final, now=0.0)
    sent(tl)
    tl.receive(wire, ME, now=0.5)  # retransmission matched by Request-URI, tags, Call-ID, CSeq, Via
    assert names(sent(tl)) == ["603"]
    ack = Request(method="ACK", uri=wire.uri)
    for name in ("Via", "From", "Call-ID"):
        ack.headers.add(name, wire.headers.get(name) or "")
    ack.headers.add("To", final.headers.get("To") or "")
    ack.headers.add("CSeq", f"{wire.cseq.number} ACK")
    tl.receive(ack, ME, now=0.6)
    assert tx.state is S.CONFIRMED
    assert events(tl) == []


def test_broken_requests_get_a_stateless_error_and_broken_responses_are_dropped():
    tl = layer()
    bad = request("OPTIONS")
    bad.headers.set("CSeq", "1 INVITE")
    tl.receive(bad, ME, now=0.0)
    (event,) = events(tl)
    assert isinstance(event, MessageRejected) and event.status == 400
    assert names(sent(tl)) == ["400"]
    worse = request("OPTIONS")
    worse.headers.remove("Via")
    tl.receive(worse, ME, now=0.0)
    (event,) = events(tl)
    assert isinstance(event, MessageRejected) and event.status is None and sent(tl) == []
    response = Response(status=200)
    response.headers.add("Via", "garbage")
    tl.receive(response, PEER, now=0.0)
    (event,) = events(tl)
    assert isinstance(event, MessageRejected) and event.status is None


# --- random schedules --------------------------------------------------------------------------------------------

TABLES = {id(t): t for t in (INVITE_CLIENT, NON_INVITE_CLIENT, INVITE_SERVER, NON_INVITE_SERVER)}
ACTIONS = st.sampled_from(
    ["c2s", "s2c", "dup_c2s", "dup_s2c", "drop_c2s", "drop_s2c", "swap_c2s", "swap_s2c", "timer",
     "1xx", "2xx", "4xx", "cancel", "fail"]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=st.sampled_from(["INVITE", "OPTIONS"]),
    reliable=st.booleans(),
    actions=st.lists(ACTIONS, max_size=40),
)
def test_random_schedules_never_raise_and_follow_the_tables(monkeypatch, method, reliable, actions):
    taken: list[tuple[object, TransactionState, Stimulus, TransactionState]] = []
    original = Transaction._set_state

    def recording(self, new, stimulus):
        taken.append((self.table, self.state, stimulus, new))
        original(self, new, stimulus)

    monkeypatch.setattr(Transaction, "_set_state", recording)
    client, server = layer(1), layer(2)
    invite = request(method)
    client.send_request(invite, PEER, now=0.0, reliable=reliable)
    wires: dict[str, list[bytes]] = {"c2s": [d for d, _ in client.datagrams_to_send()], "s2c": []}
    server_txs: list[ServerTransaction] = []
    now = 0.0
    cancelled = False
    for action in actions:
        direction = action[-3:]
        queue = wires.get(direction, [])
        if action in ("c2s", "s2c", "dup_c2s", "dup_s2c") and queue:
            data = queue[0] if action.startswith("dup") else queue.pop(0)
            target, source = (server, ME) if direction == "c2s" else (client, PEER)
            target.receive(parse_message(data), source, now, reliable=reliable)
        elif action.startswith("drop") and queue:
            queue.pop(0)
        elif action.startswith("swap"):
            queue.reverse()
        elif action == "timer":
            deadlines = [t for t in (client.get_timer(), server.get_timer()) if t is not None]
            if deadlines:
                now = min(deadlines)
                client.handle_timer(now)
                server.handle_timer(now)
        elif action in ("1xx", "2xx", "4xx") and server_txs:
            tx = server_txs[0]
            status = {"1xx": 180, "2xx": 200, "4xx": 486}[action]
            wanted = {"1xx": "SEND_1XX", "2xx": "SEND_2XX", "4xx": "SEND_300_699"}[action]
            allowed = any(s.name == wanted for s in tx.table[tx.state])
            try:
                server.send_response(tx, make_response(tx.request, status, to_tag="u"), now)
                assert allowed
            except LocalProtocolError:
                assert not allowed
        elif action == "cancel" and method == "INVITE" and not cancelled:
            cancelled = True
            client.send_request(make_cancel(invite), PEER, now, reliable=reliable)
        elif action == "fail":
            client.transport_failed(PEER, now)
        wires["c2s"].extend(d for d, _ in client.datagrams_to_send())
        wires["s2c"].extend(d for d, _ in server.datagrams_to_send())
        for tl in (client, server):
            for event in events(tl):
                if isinstance(event, RequestReceived):
                    server_txs.append(event.transaction)
                if isinstance(event, CancelReceived):
                    ok, terminated = event.responses()
                    server.send_response(event.transaction, ok, now)
                    server.send_response(event.invite_transaction, terminated, now)
                assert isinstance(
                    event,
                    RequestReceived | ResponseReceived | AckReceived | CancelReceived | TransactionTimedOut
                    | TransportFailed | TransactionTerminated | StrayResponse,
                ), event
    for table, old, stimulus, new in taken:
        assert TABLES[id(table)][old][stimulus] is new
    # Every timer eventually drains: no transaction lives forever.
    for _ in range(200):
        deadlines = [t for t in (client.get_timer(), server.get_timer()) if t is not None]
        if not deadlines:
            break
        now = min(deadlines)
        client.handle_timer(now)
        server.handle_timer(now)
    for tl in (client, server):
        assert all(tx.state in (S.PROCEEDING, S.TRYING) for tx in tl.transactions())
