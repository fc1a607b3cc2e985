"""IVR node models: the discriminated union, where nodes lead, which prompts they play."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from voxcenter.config.ivr_nodes import (
    NODE_TYPES,
    CollectNode,
    HangupNode,
    HoursNode,
    MenuNode,
    QueueNode,
    TransferNode,
    node_from_data,
)

MINIMAL: dict[str, dict[str, Any]] = {
    "play": {"prompts": "hello"},
    "menu": {"prompts": "menu", "options": {1: "a"}},
    "collect": {"prompts": "enter", "variable": "account", "next": "a"},
    "goto": {"next": "a"},
    "hours": {"schedule": "office", "open": "a", "closed": "b"},
    "language": {"prompts": "choose", "options": {1: "en"}, "next": "a"},
    "lookup": {"next": "a"},
    "set": {"next": "a"},
    "recording": {"action": "pause", "next": "a"},
    "queue": {"queue": "sales"},
    "transfer": {"extension": "1001"},
    "voicemail": {"mailbox": "sales"},
    "callback": {"prompts": "offer"},
    "operator": {"queue": "support"},
    "survey": {"prompts": "nps-question"},
    "hangup": {},
}


def test_every_type_has_a_minimal_form() -> None:
    assert set(MINIMAL) == set(NODE_TYPES)


@pytest.mark.parametrize("kind", sorted(NODE_TYPES))
def test_minimal_nodes(kind: str) -> None:
    node = node_from_data({"type": kind, **MINIMAL[kind]})
    assert type(node) is NODE_TYPES[kind]
    with pytest.raises(ValidationError):
        node.description = "changed"


def test_menu_defaults_and_targets() -> None:
    node = node_from_data({"type": "menu", "prompts": ["a", "b"], "options": {1: "x", "#": "y"}, "on_failure": "z"})
    assert isinstance(node, MenuNode)
    assert (node.timeout, node.max_failures) == (10.0, 3)
    assert node.targets() == [(("options", "1"), "x"), (("options", "#"), "y"), (("on_failure",), "z")]
    assert node.prompts_used() == [(("prompts", 0), "a"), (("prompts", 1), "b")]


def test_collect_defaults() -> None:
    node = node_from_data({"type": "collect", "prompts": "p", "variable": "pin", "next": "n", "sensitive": True})
    assert isinstance(node, CollectNode)
    assert (node.terminator, node.first_digit_timeout, node.inter_digit_timeout) == ("#", 10.0, 5.0)
    assert node.sensitive


def test_hours_and_queue_targets() -> None:
    hours = node_from_data({"type": "hours", "schedule": "s", "open": "o", "closed": "c", "holiday": "h"})
    assert isinstance(hours, HoursNode)
    assert [t for _, t in hours.targets()] == ["o", "c", "h"]
    queue = node_from_data({"type": "queue", "queue": "q", "on_exit": {"timeout": "vm", "callback": "bye"}})
    assert isinstance(queue, QueueNode)
    assert queue.targets() == [(("on_exit", "timeout"), "vm"), (("on_exit", "callback"), "bye")]


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"agent": "1001", "extension": "1002"}, "exactly one"),
        ({}, "exactly one"),
        ({"number": "0612345678"}, "needs a 'route'"),
        ({"extension": "1001", "route": "r"}, "only applies"),
    ],
)
def test_transfer_rules(data: dict[str, str], fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        node_from_data({"type": "transfer", **data})


def test_transfer_prompt_and_hangup_goodbye() -> None:
    transfer = node_from_data({"type": "transfer", "agent": "1001", "announce": "connecting"})
    assert isinstance(transfer, TransferNode) and transfer.prompts_used() == [(("announce",), "connecting")]
    hangup = node_from_data({"type": "hangup", "prompts": "bye"})
    assert isinstance(hangup, HangupNode) and hangup.targets() == []


@pytest.mark.parametrize(
    "data",
    [
        {"type": "menu", "prompts": "m", "options": {"x": "a"}},
        {"type": "menu", "prompts": "m.wav", "options": {}},
        {"type": "menu", "prompts": "m", "options": {}, "timeout": 10},
        {"type": "collect", "prompts": "p", "variable": "1bad", "next": "n"},
        {"type": "collect", "prompts": "p", "variable": "v", "next": "n", "pattern": "("},
        {"type": "set", "skills": {"billing": 0}, "next": "n"},
        {"type": "play", "prompts": "../../etc/passwd"},
        {"type": "nope"},
    ],
)
def test_refused(data: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        node_from_data(data)
