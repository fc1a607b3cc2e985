"""Node keys the other interpreter tests leave aside: descriptions, a queue node's full and empty exits, a set
node's language, a transfer to an extension, the dial plan's sayer per language."""

from __future__ import annotations

import copy
from typing import Any

from voxcenter.config.ivr_nodes import NODE_TYPES
from voxcenter.ivr import EnterQueue, Hangup, Play, RecordVoicemail, Transfer

from .driver import Driver, make_config

EVERY_TYPE: dict[str, Any] = {
    "play": {"type": "play", "prompts": "hello", "next": "menu"},
    "menu": {"type": "menu", "prompts": "menu", "options": {1: "collect", 2: "queue"}},
    "collect": {"type": "collect", "prompts": "enter", "variable": "account", "next": "goto"},
    "goto": {"type": "goto", "next": "hours"},
    "hours": {"type": "hours", "schedule": "always", "open": "language", "closed": "hangup"},
    "language": {"type": "language", "prompts": "choose", "options": {1: "en"}, "next": "lookup"},
    "lookup": {"type": "lookup", "by": "variable", "variable": "account", "next": "set"},
    "set": {"type": "set", "priority": 3, "next": "recording"},
    "recording": {"type": "recording", "action": "pause", "next": "survey"},
    "survey": {"type": "survey", "prompts": "nps", "next": "voicemail"},
    "voicemail": {"type": "voicemail", "mailbox": "1001", "next": "callback"},
    "callback": {"type": "callback", "prompts": "offer", "confirm": False, "queue": "sales", "next": "transfer"},
    "transfer": {"type": "transfer", "agent": "1001", "on_failure": "operator"},
    "operator": {"type": "operator", "queue": "support"},
    "queue": {"type": "queue", "queue": "sales"},
    "hangup": {"type": "hangup", "prompts": "bye"},
}
ALWAYS = {"always": {"timezone": "UTC", "hours": [{"days": "mon-sun", "open": "00:00", "close": "23:59"}]}}


def walk_every_type(ivr: dict[str, Any]) -> tuple[list[Any], list[tuple[str, dict[str, object]]]]:
    """Through every node type: the actions asked for and the timeline (times left out)."""
    d = Driver(make_config(ivr, schedules=ALWAYS), "play")
    d.start()
    d.finish_prompt()
    d.press("1")      # menu: collect
    d.finish_prompt()
    d.press("42#")    # the account; goto, hours (open), language
    d.finish_prompt()
    d.press("1")      # English; then the lookup by variable
    d.run.lookup_result(None, d.now)
    d.pull()          # set, recording, then the survey
    d.finish_prompt()
    d.press("9")      # survey answered; voicemail
    d.run.recording_finished(3.0, "silence", d.now)
    d.pull()          # the callback offer
    d.finish_prompt()
    d.press("0612#")  # booked; the transfer
    d.run.transfer_result(False, d.now)
    d.pull()          # not answered: the operator's queue
    return d.actions, [(event.name, dict(event.data)) for event in d.timeline]


def test_a_description_is_never_played_and_changes_nothing() -> None:
    described = copy.deepcopy(EVERY_TYPE)
    for node_id, node in described.items():
        node["description"] = f"the {node_id} node: played to nobody"
    assert {node["type"] for node in described.values()} == set(NODE_TYPES)  # every type has its description
    plain, described_run = walk_every_type(EVERY_TYPE), walk_every_type(described)
    assert described_run == plain
    actions, timeline = plain
    entered = {data["type"] for name, data in timeline if name == "node"}
    assert entered == set(NODE_TYPES) - {"queue", "hangup"}, entered  # the walk went through every other type
    assert isinstance(actions[-1], EnterQueue) and actions[-1].queue == "support"
    ends = {"queue": [EnterQueue("sales", 0, {}, {}, "en", None)],
            "hangup": [Play(("bye",), "en", False), Hangup("hangup node")]}
    for entry, expected in ends.items():  # the two types the walk does not go through
        for ivr in (EVERY_TYPE, described):
            d = Driver(make_config(ivr, schedules=ALWAYS), entry)
            assert d.start() + d.finish_prompt() == expected
    assert "description" not in repr(described_run) and "played to nobody" not in repr(described_run)


QUEUE = {
    "q": {"type": "queue", "queue": "sales", "on_exit": {"full": "full-message", "empty": "nobody"}},
    "full-message": {"type": "voicemail", "mailbox": "sales"},
    "nobody": {"type": "play", "prompts": "nobody-here", "next": "bye"},
    "bye": {"type": "hangup", "prompts": "goodbye"},
}


def test_a_queue_nodes_full_and_empty_exits_win_over_the_queues_overflow() -> None:
    queues = {"sales": {"overflow": {"full": {"node": "bye"}, "empty": {"node": "bye"}}}, "support": {}}
    full = Driver(make_config(QUEUE, queues=queues), "q")
    full.start()
    full.run.queue_result("queue-full", full.now)
    assert full.pull() == [RecordVoicemail("sales", 120.0, 5.0, True)]
    empty = Driver(make_config(QUEUE, queues=queues), "q")
    empty.start()
    empty.run.queue_result("join-empty", empty.now)
    assert empty.pull() == [Play(("nobody-here",), "en", False)]


def test_a_set_node_changes_the_language_of_what_follows_and_of_the_queue() -> None:
    ivr = {"s": {"type": "set", "language": "pl", "next": "p"}, "p": {"type": "play", "prompts": "hello", "next": "q"},
           "q": {"type": "queue", "queue": "sales"}}
    d = Driver(make_config(ivr, prompts={"languages": ["en", "pl"]}), "s")
    assert d.start() == [Play(("hello",), "pl", False)]
    assert d.finish_prompt() == [EnterQueue("sales", 0, {}, {}, "pl", None)]


def test_a_transfer_to_an_extension_rings_it_for_its_ring_timeout() -> None:
    ivr = {"t": {"type": "transfer", "extension": "2001", "ring_timeout": "12s", "on_failure": "bye"},
           "bye": {"type": "hangup"}}
    d = Driver(make_config(ivr), "t")
    assert d.start() == [Transfer("extension", "2001", None, 12.0)]
    d.run.transfer_result(False, d.now)
    assert d.pull() == [Hangup("hangup node")]


def test_the_dial_plans_sayer_reads_a_languages_numbers() -> None:
    ivr = {"p": {"type": "play", "prompts": "hello"}}
    prompts = {"languages": ["en", "pt"], "default_language": "pt", "sayer": {"pt": "fr"}}
    assert Driver(make_config(ivr, prompts=prompts), "p").run.sayer.code == "fr"  # Portuguese read with French
    assert Driver(make_config(ivr, prompts={"languages": ["en", "pt"], "default_language": "pt"}),
                  "p").run.sayer.code == "digits"  # no sayer of its own: digit by digit
