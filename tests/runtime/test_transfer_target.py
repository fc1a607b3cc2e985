"""What a REFER's Refer-To names, resolved against the dial plan, and how a Replaces value is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.queue_peers import queue_dial_plan
from voxcenter.config import Config, load_config
from voxcenter.runtime.services import Consultations
from voxcenter.runtime.transfer import TargetKind, TransferRefused, TransferTarget, parse_refer_to, resolve_target
from voxcenter.sip.message import Request
from voxcenter.sip.uri import parse_uri


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    tmp: Path = tmp_path_factory.mktemp("plan")
    return load_config(queue_dial_plan(tmp, sip_port=5080, rtp_base=30000, far_end="127.0.0.1:5999"),
                       check_prompts=False)


def refer(*refer_to: str) -> Request:
    request = Request(method="REFER", uri=parse_uri("sip:voxcenter@127.0.0.1"))
    for value in refer_to:
        request.headers.add("Refer-To", value)
    return request


def test_refer_to_is_read_with_its_replaces() -> None:
    plain = parse_refer_to(refer("<sip:1002@127.0.0.1:5080>"))
    assert (plain.user, plain.replaces) == ("1002", None)
    attended = parse_refer_to(refer("<sip:1002@pbx?Replaces=abc%40host%3Bto-tag%3D1%3Bfrom-tag%3D2>"))
    assert (attended.user, attended.replaces) == ("1002", "abc@host;to-tag=1;from-tag=2")
    for bad in (refer(), refer("<sip:a@x>", "<sip:b@x>"), refer("<sip:pbx.example>"), refer("<<not a uri")):
        with pytest.raises(TransferRefused) as refused:
            parse_refer_to(bad)
        assert refused.value.status == 400


def test_targets_in_order_agent_number_queue_node_then_allowed_outside(config: Config) -> None:
    assert resolve_target(config, "1001", "1002", None) == TransferTarget(TargetKind.AGENT, "1002")
    assert resolve_target(config, "1001", "303", None) == TransferTarget(TargetKind.NODE, "billing")
    assert resolve_target(config, "1001", "support", None) == TransferTarget(TargetKind.NODE, "support")
    assert resolve_target(config, "1001", "vip", None) == TransferTarget(TargetKind.NODE, "vip")
    assert resolve_target(config, "1001", "0611111111", "out") == TransferTarget(TargetKind.OUTSIDE, "0611111111",
                                                                                 "out")
    with pytest.raises(TransferRefused) as refused:
        resolve_target(config, "1001", "0611111111", None)  # no route allows this agent: never to a trunk
    assert refused.value.status == 403
    with pytest.raises(TransferRefused):
        resolve_target(config, "1001", "1001", None)


def test_a_replaces_value_finds_its_consultation_by_call_id_and_tags() -> None:
    class Consult:
        def matches(self, local_tag: str | None, remote_tag: str | None) -> bool:
            return {tag for tag in (local_tag, remote_tag) if tag} <= {"ours", "theirs"}

        def hand_over(self) -> None:
            return None

    consultations = Consultations()
    consult = Consult()
    consultations.calls["abc@host"] = consult
    assert consultations.find("abc@host;to-tag=ours;from-tag=theirs") is consult
    assert consultations.find("abc@host;to-tag=theirs;from-tag=ours") is consult  # either way round
    assert consultations.find("abc@host;to-tag=other;from-tag=theirs") is None
    assert consultations.find("nope;to-tag=ours;from-tag=theirs") is None
