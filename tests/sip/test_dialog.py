import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.sip.pair import Peer, advance, drop, make_pair, roundtrip, summary, transfer
from voxcenter.sip.dialog import (
    AckTimedOut,
    Dialog,
    DialogAckReceived,
    DialogConfirmed,
    DialogCreated,
    DialogState,
    DialogTerminated,
    InDialogRequest,
    RequestRejected,
    dialog_as_uac,
    glare_retry_delay,
    new_request,
)
from voxcenter.sip.errors import LocalProtocolError
from voxcenter.sip.message import Response, make_response, parse_message
from voxcenter.sip.transaction import (
    CancelReceived,
    RequestReceived,
    ResponseReceived,
    ServerTransaction,
    TransactionTimedOut,
    make_cancel,
)
from voxcenter.sip.uri import parse_name_addr, parse_uri


def answer(peer: Peer, tx: ServerTransaction, status: int, now: float, tag: str = "bobtag") -> Response:
    """The UAS TU: a response with our tag and Contact (make_response copies the Record-Route, §12.1.1)."""
    response = make_response(tx.request, status, to_tag=tag)
    if 100 < status < 300 and tx.request.method == "INVITE":
        response.headers.add("Contact", f"<sip:{peer.name}@{peer.address[1]}:{peer.address[2]}>")
    peer.layer.send_response(tx, response, now)
    return response


def incoming(peer: Peer) -> RequestReceived:
    (event,) = peer.of(RequestReceived)
    assert isinstance(event, RequestReceived)
    return event


def only_dialog(peer: Peer) -> Dialog:
    (dialog,) = peer.layer.dialogs.values()
    return dialog


def established(now: float = 0.0) -> tuple[Peer, Peer, Dialog, Dialog]:
    alice, bob = make_pair()
    alice.invite(bob, now)
    transfer(alice, bob, now)
    answer(bob, incoming(bob).transaction, 200, now)
    transfer(bob, alice, now)
    dialog_a = only_dialog(alice)
    alice.layer.send_ack(dialog_a, bob.address, now)
    transfer(alice, bob, now)
    return alice, bob, dialog_a, only_dialog(bob)


def test_new_request_has_the_mandatory_headers_and_gets_a_branch_when_sent():
    rng = random.Random(3)
    request = new_request(
        "OPTIONS", parse_uri("sip:bob@b.test"), from_=parse_name_addr('"Alice" <sip:alice@a.test>'),
        to=parse_name_addr("<sip:bob@b.test>;tag=stale"), via_sent_by="a.test:5070", rng=rng, cseq=7,
    )
    assert request.headers.get("Max-Forwards") == "70"
    assert request.from_.tag and request.from_.display == "Alice"
    assert request.to.tag is None  # an initial request has no To tag (§8.1.1.2)
    assert str(request.cseq) == "7 OPTIONS" and len(request.call_id) == 32
    alice, _ = make_pair()
    alice.layer.send_request(request, ("udp", "b.test", 5062), 0.0)
    branch = request.top_via.branch
    assert branch is not None and branch.startswith("z9hG4bK") and branch != "z9hG4bK-unset"
    with pytest.raises(LocalProtocolError, match="out of range"):
        new_request("OPTIONS", parse_uri("sip:b.test"), from_=request.from_, to=request.to,
                    via_sent_by="a.test", rng=rng, cseq=2**31)


def test_invite_100_180_200_ack_bye_between_two_engines():
    alice, bob = make_pair()
    invite = alice.invite(bob, 0.0)
    transfer(alice, bob, 0.0)
    tx = incoming(bob).transaction
    advance(alice, bob, until=0.2)  # bob's TU is slow: the transaction says 100 Trying itself
    assert alice.of(ResponseReceived)[-1].response.status == 100  # type: ignore[attr-defined]
    answer(bob, tx, 180, 0.3)
    assert [type(e) for e in bob.collect()] == [DialogCreated]
    assert summary(transfer(bob, alice, 0.3)) == ["180"]
    assert only_dialog(alice).state is DialogState.EARLY
    answer(bob, tx, 200, 1.0)
    assert summary(transfer(bob, alice, 1.0)) == ["200"]
    dialog_a, dialog_b = only_dialog(alice), only_dialog(bob)
    assert dialog_a.state is dialog_b.state is DialogState.CONFIRMED
    assert dialog_a.id == (dialog_b.call_id, dialog_b.remote_tag, dialog_b.local_tag)
    assert alice.of(DialogConfirmed) and bob.of(DialogConfirmed)
    ack = alice.layer.send_ack(dialog_a, bob.address, 1.0)
    assert ack.cseq.number == invite.cseq.number and ack.cseq.method == "ACK"
    assert ack.top_via.branch != invite.top_via.branch  # the 2xx ACK is a transaction of its own
    transfer(alice, bob, 1.0)
    assert bob.of(DialogAckReceived)
    bye = dialog_a.create_request("BYE")
    assert bye.cseq.number == invite.cseq.number + 1
    assert str(bye.uri) == f"sip:bob@bob.test:{bob.address[2]}"  # the remote target from Contact
    alice.layer.send_request(bye, bob.address, 2.0)
    assert alice.of(DialogTerminated)[0].reason == "BYE sent"  # type: ignore[attr-defined]
    transfer(alice, bob, 2.0)
    (bye_event,) = bob.of(InDialogRequest)
    assert isinstance(bye_event, InDialogRequest) and bye_event.request.method == "BYE"
    assert bob.of(DialogTerminated)[0].reason == "BYE received"  # type: ignore[attr-defined]
    answer(bob, bye_event.transaction, 200, 2.0)
    assert summary(transfer(bob, alice, 2.0)) == ["200"]
    assert alice.layer.dialogs == {} and bob.layer.dialogs == {}
    advance(alice, bob, until=100.0)  # every timer drains
    assert alice.layer.get_timer() is None and bob.layer.get_timer() is None
    assert alice.layer.transactions.transactions() == [] and bob.layer.transactions.transactions() == []


def test_lost_200_is_retransmitted_and_lost_ack_is_resent_for_each_2xx():
    alice, bob = make_pair()
    alice.invite(bob, 0.0)
    transfer(alice, bob, 0.0)
    answer(bob, incoming(bob).transaction, 200, 0.0)
    assert summary(drop(bob)) == ["200"]
    assert bob.layer.get_timer() == 0.5  # §13.3.1.4: T1
    bob.layer.handle_timer(0.5)
    assert summary(transfer(bob, alice, 0.5)) == ["200"]
    dialog_a = only_dialog(alice)
    alice.layer.send_ack(dialog_a, bob.address, 0.5)
    assert summary(drop(alice)) == ["ACK"]
    assert bob.layer.get_timer() == 1.5  # doubled
    bob.layer.handle_timer(1.5)
    transfer(bob, alice, 1.5)
    alice.collect()
    responses = [e for e in alice.events if isinstance(e, ResponseReceived) and e.response.status == 200]
    assert len(responses) == 1  # the retransmitted 2xx is absorbed by the dialog layer ...
    assert summary(transfer(alice, bob, 1.5)) == ["ACK"]  # ... which re-sends the ACK itself
    assert bob.of(DialogAckReceived)
    assert bob.layer.get_timer() == 32.0  # only Timer L is left: retransmissions stopped


def test_unacknowledged_2xx_gives_up_after_64_t1():
    alice, bob = make_pair()
    alice.invite(bob, 0.0)
    transfer(alice, bob, 0.0)
    answer(bob, incoming(bob).transaction, 200, 0.0)
    drop(bob)
    times = []
    while (deadline := bob.layer.get_timer()) is not None:
        bob.layer.handle_timer(deadline)
        if summary(drop(bob)) == ["200"]:
            times.append(deadline)
    assert times == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    (timed_out,) = bob.of(AckTimedOut)
    assert isinstance(timed_out, AckTimedOut) and timed_out.response.status == 200
    assert timed_out.dialog.state is DialogState.CONFIRMED  # the TU now sends a BYE


def test_reordered_and_duplicated_messages_are_absorbed():
    alice, bob = make_pair()
    alice.invite(bob, 0.0)
    invite_wire = alice.layer.datagrams_to_send()
    for data, _ in invite_wire * 2:  # the INVITE arrives twice
        bob.layer.receive(parse_message(data), alice.address, 0.0)
    tx = incoming(bob).transaction
    answer(bob, tx, 180, 0.1)
    ringing = drop(bob)
    answer(bob, tx, 200, 0.2)
    ok = drop(bob)
    for message in ok + ringing:  # 200 overtakes 180
        alice.layer.receive(message, bob.address, 0.3)
    assert only_dialog(alice).state is DialogState.CONFIRMED
    statuses = [e.response.status for e in alice.of(ResponseReceived)]  # type: ignore[attr-defined]
    assert statuses == [200]


def test_cancel_before_the_200_gives_487_and_ends_the_early_dialog():
    alice, bob = make_pair()
    invite = alice.invite(bob, 0.0)
    transfer(alice, bob, 0.0)
    answer(bob, incoming(bob).transaction, 180, 0.0)
    transfer(bob, alice, 0.0)
    alice.layer.send_request(make_cancel(invite), bob.address, 1.0)
    transfer(alice, bob, 1.0)
    (cancel,) = bob.of(CancelReceived)
    assert isinstance(cancel, CancelReceived)
    ok, terminated = cancel.responses()
    bob.layer.send_response(cancel.transaction, ok, 1.0)
    bob.layer.send_response(cancel.invite_transaction, terminated, 1.0)
    assert bob.layer.dialogs == {}
    assert summary(transfer(bob, alice, 1.0)) == ["200", "487"]
    assert summary(transfer(alice, bob, 1.0)) == ["ACK"]  # the transaction ACKs the 487 (§17.1.1.3)
    assert alice.layer.dialogs == {}
    reasons = [e.reason for e in alice.of(DialogTerminated)]  # type: ignore[attr-defined]
    assert reasons == ["487 received"]


def test_cancel_crossing_the_200_has_no_effect():
    alice, bob = make_pair()
    invite = alice.invite(bob, 0.0)
    transfer(alice, bob, 0.0)
    answer(bob, incoming(bob).transaction, 200, 0.0)  # in flight ...
    alice.layer.send_request(make_cancel(invite), bob.address, 0.01)  # ... while alice gives up
    assert summary(transfer(alice, bob, 0.01)) == ["CANCEL"]
    assert bob.of(CancelReceived) == []
    assert summary(transfer(bob, alice, 0.02)) == ["200", "200"]  # the INVITE's and the CANCEL's
    dialog_a = only_dialog(alice)
    assert dialog_a.state is DialogState.CONFIRMED  # the call is up: the TU ACKs and then BYEs
    alice.layer.send_ack(dialog_a, bob.address, 0.03)
    alice.layer.send_request(dialog_a.create_request("BYE"), bob.address, 0.03)
    roundtrip(alice, bob, 0.03)
    assert bob.of(DialogAckReceived)
    (bye,) = bob.of(InDialogRequest)
    assert isinstance(bye, InDialogRequest) and bye.request.method == "BYE"


def test_reinvite_glare_gets_491_on_both_sides_and_retry_delays_follow_14_1():
    alice, bob, dialog_a, dialog_b = established()
    alice.layer.send_request(dialog_a.create_request("INVITE"), bob.address, 5.0)
    bob.layer.send_request(dialog_b.create_request("INVITE"), alice.address, 5.0)
    with pytest.raises(LocalProtocolError, match="already pending"):
        alice.layer.send_request(dialog_a.create_request("INVITE"), bob.address, 5.0)
    roundtrip(alice, bob, 5.0)
    for peer in (alice, bob):
        (rejected,) = peer.of(RequestRejected)
        assert isinstance(rejected, RequestRejected) and rejected.status == 491
        statuses = [e.response.status for e in peer.of(ResponseReceived)]  # type: ignore[attr-defined]
        assert statuses[-1] == 491
    assert not dialog_a.invite_pending and not dialog_b.invite_pending  # a retry is now allowed
    rng = random.Random(5)
    owner = [glare_retry_delay(dialog_a, rng) for _ in range(200)]
    other = [glare_retry_delay(dialog_b, rng) for _ in range(200)]
    assert min(owner) >= 2.1 and max(owner) <= 4.0
    assert min(other) >= 0.0 and max(other) <= 2.0
    assert all(abs(d * 100 - round(d * 100)) < 1e-9 for d in owner + other)  # units of 10 ms


def test_in_dialog_request_without_dialog_gets_481_and_old_cseq_gets_500():
    alice, bob, dialog_a, _ = established()
    stray = dialog_a.create_request("INFO")
    stray.headers.set("To", str(parse_name_addr(f"<sip:bob@{bob.address[1]}>;tag=nosuchtag")))
    alice.layer.send_request(stray, bob.address, 1.0)
    roundtrip(alice, bob, 1.0)
    assert [e.status for e in bob.of(RequestRejected)] == [481]  # type: ignore[attr-defined]
    info = dialog_a.create_request("INFO")
    alice.layer.send_request(info, bob.address, 2.0)
    roundtrip(alice, bob, 2.0)
    old = dialog_a.create_request("INFO")
    old.headers.set("CSeq", f"{info.cseq.number - 1} INFO")
    alice.layer.send_request(old, bob.address, 3.0)
    roundtrip(alice, bob, 3.0)
    assert [e.status for e in bob.of(RequestRejected)] == [481, 500]  # type: ignore[attr-defined]
    assert dialog_a.state is DialogState.CONFIRMED  # a 500 does not end the dialog


def test_481_to_our_in_dialog_request_terminates_the_dialog():
    alice, bob, dialog_a, dialog_b = established()
    bob.layer._terminate(dialog_b, "forgotten")  # bob lost the dialog (a restart)
    alice.layer.send_request(dialog_a.create_request("INFO"), bob.address, 1.0)
    roundtrip(alice, bob, 1.0)
    assert [e.reason for e in alice.of(DialogTerminated)] == ["481 received"]  # type: ignore[attr-defined]
    with pytest.raises(LocalProtocolError, match="terminated"):
        dialog_a.create_request("BYE")


def test_in_dialog_requests_cseq_contact_and_ack_rules():
    _, _, dialog_a, _ = established()
    numbers = []
    for method in ("UPDATE", "INFO", "REFER", "NOTIFY", "INVITE"):
        request = dialog_a.create_request(method)
        numbers.append(request.cseq.number)
        assert ("Contact" in request.headers) == (method != "INFO")
        assert request.headers.get("Max-Forwards") == "70"
    assert numbers == list(range(numbers[0], numbers[0] + 5))
    ack = dialog_a.create_ack()
    assert ack.cseq.number == numbers[-1]  # the ACK of the last INVITE (§13.2.2.4)
    with pytest.raises(LocalProtocolError):
        dialog_a.create_request("ACK")


def test_route_set_from_record_route_reversed_for_the_uac_and_strict_routing():
    alice, bob = make_pair()
    invite = alice.invite(bob, 0.0)
    for data, _ in alice.layer.datagrams_to_send():
        wire = parse_message(data)
        wire.headers.add("Record-Route", "<sip:p2.test;lr>")  # two proxies on the way
        wire.headers.add("Record-Route", "<sip:p1.test;lr>")
        bob.layer.receive(wire, alice.address, 0.0)
    answer(bob, incoming(bob).transaction, 200, 0.0)
    transfer(bob, alice, 0.0)
    dialog_a, dialog_b = only_dialog(alice), only_dialog(bob)
    assert dialog_b.route_set == ["<sip:p2.test;lr>", "<sip:p1.test;lr>"]
    assert dialog_a.route_set == ["<sip:p1.test;lr>", "<sip:p2.test;lr>"]
    assert str(dialog_a.next_hop) == "sip:p1.test;lr"
    bye = dialog_a.create_request("BYE")
    assert bye.headers.values("Route") == dialog_a.route_set and bye.uri == dialog_a.remote_target
    # A strict router (no lr) goes into the Request-URI and the target to the end of Route (§12.2.1.2).
    response = make_response(invite, 200, to_tag="t")
    response.headers.add("Contact", "<sip:bob@10.0.0.2>")
    response.headers.add("Record-Route", "<sip:strict.test>")
    strict = dialog_as_uac(invite, response).create_request("BYE")
    assert str(strict.uri) == "sip:strict.test"
    assert strict.headers.values("Route") == ["<sip:bob@10.0.0.2>"]


def test_uas_refuses_to_make_a_dialog_from_a_response_without_contact_or_tag():
    alice, bob = make_pair()
    alice.invite(bob, 0.0)
    transfer(alice, bob, 0.0)
    tx = incoming(bob).transaction
    with pytest.raises(LocalProtocolError, match="Contact"):
        bob.layer.send_response(tx, make_response(tx.request, 200, to_tag="x"), 0.0)
    with pytest.raises(LocalProtocolError, match="To tag"):
        bob.layer.send_response(tx, make_response(tx.request, 180), 0.0)
    assert tx.state.name == "PROCEEDING"  # nothing was sent


def test_invite_without_contact_is_rejected_with_400():
    alice, bob = make_pair()
    request = alice.invite(bob, 0.0)
    request.headers.remove("Contact")
    for data, _ in alice.layer.datagrams_to_send():
        wire = parse_message(data)
        wire.headers.remove("Contact")
        bob.layer.receive(wire, alice.address, 0.0)
    assert [e.status for e in bob.of(RequestRejected)] == [400]  # type: ignore[attr-defined]
    assert summary(drop(bob)) == ["400"]


@settings(max_examples=60, deadline=None)
@given(
    losses=st.lists(st.booleans(), min_size=30, max_size=30),
    answer_delay=st.sampled_from([0.05, 0.3, 2.0]),
)
def test_a_call_survives_random_loss(losses, answer_delay):
    """Whatever is lost, the call ends up established on both sides or cleanly timed out; nothing raises."""
    alice, bob = make_pair()
    alice.invite(bob, 0.0)
    loss = iter(losses + [False] * 1000)
    now = 0.0
    answered = acked = False
    for _ in range(400):
        for sender, receiver in ((alice, bob), (bob, alice)):
            for data, _ in sender.layer.datagrams_to_send():
                if not next(loss):
                                receiver.layer.receive(parse_message(data), sender.address, now)
        for event in bob.collect():
            if isinstance(event, RequestReceived) and not answered:
                answered = True
                bob_tx = event.transaction
        for event in alice.collect():
            if isinstance(event, ResponseReceived) and event.response.status == 200 and not acked:
                acked = True
                alice.layer.send_ack(only_dialog(alice), bob.address, now)
        if answered and now >= answer_delay and bob_tx.state.name == "PROCEEDING":
            answer(bob, bob_tx, 200, now)
        deadlines = [t for t in (alice.layer.get_timer(), bob.layer.get_timer()) if t is not None]
        if answered and now < answer_delay:
            deadlines.append(answer_delay)  # the TU's own schedule
        if not deadlines:
            break
        now = min(deadlines)
        alice.layer.handle_timer(now)
        bob.layer.handle_timer(now)
    assert alice.layer.get_timer() is None and bob.layer.get_timer() is None
    if bob.of(DialogAckReceived):
        assert only_dialog(alice).state is only_dialog(bob).state is DialogState.CONFIRMED
    else:
        assert bob.of(AckTimedOut) or (not answered and alice.of(TransactionTimedOut))


def test_forked_answer_leaves_the_other_early_dialog_until_the_invite_transaction_ends():
    alice, bob = make_pair()
    alice.invite(bob, 0.0)
    transfer(alice, bob, 0.0)
    tx = incoming(bob).transaction
    ringing = make_response(tx.request, 180, to_tag="fork1")
    ringing.headers.add("Contact", "<sip:bob@phone1.test>")
    alice.layer.receive(ringing, bob.address, 0.1)
    answer(bob, tx, 200, 0.2, tag="fork2")
    transfer(bob, alice, 0.2)
    states = sorted((d.remote_tag, d.state.name) for d in alice.layer.dialogs.values())
    assert states == [("fork1", "EARLY"), ("fork2", "CONFIRMED")]
    while (deadline := alice.layer.get_timer()) is not None and deadline <= 40.0:
        alice.layer.handle_timer(deadline)  # Timer M ends the INVITE transaction
    assert [d.remote_tag for d in alice.layer.dialogs.values()] == ["fork2"]
    assert [e.reason for e in alice.of(DialogTerminated)] == ["INVITE transaction ended"]  # type: ignore[attr-defined]


def test_in_dialog_request_timeout_ends_the_dialog_like_a_408():
    alice, bob, dialog_a, _ = established()
    alice.layer.send_request(dialog_a.create_request("INFO"), bob.address, 1.0)
    while (deadline := alice.layer.get_timer()) is not None:
        alice.layer.handle_timer(deadline)
        drop(alice)
    assert alice.of(TransactionTimedOut)
    assert [e.reason for e in alice.of(DialogTerminated)] == ["request timed out"]  # type: ignore[attr-defined]
    assert alice.layer.dialogs == {}


def test_malformed_record_route_or_contact_is_the_peers_fault_and_never_raises():
    alice, bob = make_pair()
    alice.invite(bob, 0.0)
    (data, _), = alice.layer.datagrams_to_send()
    wire = parse_message(data)
    wire.headers.add("Record-Route", "<sip:unterminated")
    bob.layer.receive(wire, alice.address, 0.0)
    assert [e.status for e in bob.of(RequestRejected)] == [400]  # type: ignore[attr-defined]
    assert summary(drop(bob)) == ["400"]
    alice.invite(bob, 1.0)
    transfer(alice, bob, 1.0)
    (event,) = bob.of(RequestReceived)
    assert isinstance(event, RequestReceived)
    ok = make_response(event.request, 200, to_tag="x")
    ok.headers.add("Contact", "<sip:broken")
    alice.layer.receive(ok, bob.address, 1.1)  # a 2xx we cannot make a dialog from: reported, not raised
    assert [e.response.status for e in alice.of(ResponseReceived)] == [200]  # type: ignore[attr-defined]
    assert alice.layer.dialogs == {}


def test_a_transport_failure_reaches_the_tu_at_once() -> None:
    # A TCP/TLS connection that cannot be opened (refused, an expired certificate) fails the request now, not
    # at the next message or timer: the endpoint answers its waiter with 503.
    from voxcenter.sip.dialog import DialogLayer
    from voxcenter.sip.transaction import TransactionLayer, TransportFailed

    layer = DialogLayer(TransactionLayer(rng=random.Random(3)))
    request = new_request("OPTIONS", parse_uri("sip:bob@b.test"), from_=parse_name_addr("<sip:alice@a.test>"),
                          to=parse_name_addr("<sip:bob@b.test>"), via_sent_by="a.test:5061", rng=random.Random(4),
                          transport="TLS")
    transaction = layer.send_request(request, ("tls", "b.test", 5061), 0.0, reliable=True)
    layer.transport_failed(("tls", "b.test", 5061), 0.01)
    events = []
    while (event := layer.next_event()) is not None:
        events.append(event)
    assert any(isinstance(e, TransportFailed) and e.transaction is transaction for e in events)
