"""The interpreter with a fake clock and scripted keys: every node type, timeouts, retries, fallbacks."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import pytest

from voxcenter.ivr import (
    CallerProfile,
    EnterQueue,
    Hangup,
    LeaveQueue,
    LookupCaller,
    Phase,
    Play,
    RecordingControl,
    RecordVoicemail,
    RequestCallback,
    StartCollect,
    StopCollect,
    StopPlayback,
    StoreSurvey,
    Transfer,
)
from voxcenter.sip.errors import LocalProtocolError

from .driver import Driver, make_config


class ExitReason(enum.Enum):
    """Stands for the ACD's ExitReason: queue_result takes any enum by its value."""

    TIMEOUT = "timeout"
    CALLBACK_REQUESTED = "callback-requested"


MENU: dict[str, Any] = {
    "main": {
        "type": "menu", "prompts": ["welcome", "main-menu"], "options": {1: "sales", 2: "bye", "*": "bye"},
        "invalid_prompt": "invalid-option", "timeout_prompt": "no-input", "on_failure": "bye",
    },
    "sales": {"type": "queue", "queue": "sales"},
    "bye": {"type": "hangup", "prompts": "goodbye"},
}


def plays(actions: list[Any]) -> list[tuple[str, ...]]:
    return [a.prompts for a in actions if isinstance(a, Play)]


# ---------------------------------------------------------------------------------------------------- menu


def test_menu_plays_with_barge_in_and_waits_ten_seconds_after_the_prompt() -> None:
    d = Driver(make_config(MENU), "main")
    first = d.start()
    assert first == [StartCollect("main", False), Play(("welcome", "main-menu"), "en", True)]
    assert d.run.get_timer() is None  # no timeout while the prompt plays
    d.finish_prompt(after=7.0)
    assert d.run.get_timer() == pytest.approx(17.0)
    assert d.run.phase is Phase.WAITING


def test_menu_choice_goes_to_the_option() -> None:
    d = Driver(make_config(MENU), "main")
    d.start()
    d.finish_prompt()
    out = d.press("1")
    assert out == [StopCollect("main"), EnterQueue("sales", 0, {}, {}, "en", None)]
    assert d.nodes() == ["main", "sales"]
    assert [e.data["digit"] for e in d.events("digit")] == ["1"]


def test_barge_in_stops_the_prompt_and_takes_the_key() -> None:
    d = Driver(make_config(MENU), "main")
    d.start()
    out = d.press("*")
    assert out[0] == StopPlayback()
    assert plays(out) == [("goodbye",)]
    assert d.run.node == "bye"


def test_invalid_key_replays_invalid_prompt_then_the_menu() -> None:
    d = Driver(make_config(MENU), "main")
    d.start()
    d.finish_prompt()
    out = d.press("7")
    assert plays(out) == [("invalid-option", "welcome", "main-menu")]
    assert d.events("invalid")[0].data["failures"] == 1


def test_timeout_plays_timeout_prompt_and_retries() -> None:
    d = Driver(make_config(MENU), "main")
    d.start()
    d.finish_prompt()
    out = d.advance(10.0)
    assert plays(out) == [("no-input", "welcome", "main-menu")]
    assert d.now == pytest.approx(11.0)
    assert d.events("timeout")[0].at == pytest.approx(11.0)


def test_three_failures_go_to_on_failure() -> None:
    d = Driver(make_config(MENU), "main")
    d.start()
    d.finish_prompt()
    d.press("9")          # invalid 1
    d.finish_prompt()
    d.advance(10.0)       # timeout 2
    d.finish_prompt()
    out = d.press("8")    # invalid 3
    assert d.run.node == "bye"
    assert plays(out) == [("goodbye",)]
    assert d.finish_prompt() == [Hangup("hangup node")]
    assert d.run.finished
    assert d.events("failed")[0].data["reason"] == "max failures"


def test_failure_without_on_failure_reaches_the_operator_node() -> None:
    ivr = {
        "main": {"type": "menu", "prompts": "m", "options": {1: "bye"}, "max_failures": 1},
        "bye": {"type": "hangup"},
        "desk": {"type": "operator", "queue": "support"},
    }
    d = Driver(make_config(ivr), "main")
    d.start()
    d.finish_prompt()
    out = d.advance(10.0)
    assert out[-1] == EnterQueue("support", 0, {}, {}, "en", None)
    assert d.run.node == "desk"


def test_failure_without_on_failure_or_operator_hangs_up() -> None:
    ivr = {"main": {"type": "menu", "prompts": "m", "options": {1: "bye"}, "max_failures": 2},
           "bye": {"type": "hangup"}}
    d = Driver(make_config(ivr), "main")
    d.start()
    d.finish_prompt()
    d.advance(10.0)
    d.finish_prompt()
    out = d.advance(10.0)
    assert out[-1] == Hangup("max failures")


def test_late_prompt_finished_after_barge_in_is_ignored() -> None:
    d = Driver(make_config(MENU), "main")
    d.start()
    d.press("9")  # barge in with an invalid key: the replay starts
    d.finish_prompt()  # the end of the replayed prompt
    d.finish_prompt()  # a stale one: harmless
    assert d.run.phase is Phase.WAITING


# --------------------------------------------------------------------------------------------------- play


def test_play_without_barge_in_ignores_keys_and_masks_them() -> None:
    ivr = {"intro": {"type": "play", "prompts": ["a", "b"], "next": "main"}, **MENU}
    d = Driver(make_config(ivr), "intro")
    assert d.start() == [Play(("a", "b"), "en", False)]
    assert d.press("1") == []
    assert d.events("digit-ignored") and "digit" not in d.events("digit-ignored")[0].data
    out = d.finish_prompt()
    assert plays(out) == [("welcome", "main-menu")]  # the ignored key was not typed ahead


def test_play_with_barge_in_keeps_the_key_for_the_next_menu() -> None:
    ivr = {"intro": {"type": "play", "prompts": "a", "barge_in": True, "next": "main"}, **MENU}
    d = Driver(make_config(ivr), "intro")
    d.start()
    out = d.press("1")
    assert out[0] == StopPlayback()
    assert plays(out) == []  # the menu prompt is skipped: the caller already chose
    assert isinstance(out[-1], EnterQueue)
    assert d.nodes() == ["intro", "main", "sales"]


def test_play_without_next_hangs_up() -> None:
    d = Driver(make_config({"p": {"type": "play", "prompts": "a"}}), "p")
    d.start()
    assert d.finish_prompt() == [Hangup("end of dial plan")]


# ------------------------------------------------------------------------------------------------ collect


def collect_plan(**fields: Any) -> dict[str, Any]:
    node = {"type": "collect", "prompts": "enter", "variable": "account", "next": "done", "invalid_prompt": "bad"}
    node.update(fields)
    return {"ask": node, "done": {"type": "hangup"}, "fail": {"type": "hangup", "prompts": "sorry"}}


def test_collect_with_terminator() -> None:
    d = Driver(make_config(collect_plan()), "ask")
    d.start()
    d.finish_prompt()
    d.press("1234#")
    assert d.run.context.variables["account"] == "1234"
    assert d.events("collected")[0].data == {"variable": "account", "value": "1234"}
    assert d.run.node == "done"


def test_collect_ends_at_max_digits() -> None:
    d = Driver(make_config(collect_plan(max_digits=3)), "ask")
    d.start()
    d.finish_prompt()
    d.press("987")
    assert d.run.context.variables["account"] == "987"


def test_collect_inter_digit_timeout_ends_the_entry() -> None:
    d = Driver(make_config(collect_plan(inter_digit_timeout="3s")), "ask")
    d.start()
    d.finish_prompt()
    d.press("42")
    assert d.run.get_timer() == pytest.approx(d.now + 3.0)
    d.advance(3.0)
    assert d.run.context.variables["account"] == "42"


def test_collect_first_digit_timeout_counts_a_failure_and_replays() -> None:
    d = Driver(make_config(collect_plan(first_digit_timeout="4s", max_failures=2, on_failure="fail")), "ask")
    d.start()
    d.finish_prompt()
    out = d.advance(4.0)
    assert plays(out) == [("enter",)]  # no input: the question again, not "invalid"
    d.finish_prompt()
    out = d.advance(4.0)
    assert d.run.node == "fail"
    assert d.events("invalid")[0].data["reason"] == "no input"


def test_collect_pattern_and_min_digits() -> None:
    d = Driver(make_config(collect_plan(pattern="9[0-9]+", min_digits=3)), "ask")
    d.start()
    d.finish_prompt()
    out = d.press("12#")
    assert plays(out) == [("bad", "enter")]
    assert d.events("invalid")[0].data["reason"] == "too short"
    d.finish_prompt()
    d.press("123#")
    assert d.events("invalid")[1].data["reason"] == "no match"
    d.finish_prompt()
    d.press("912#")
    assert d.run.context.variables["account"] == "912"


def test_sensitive_digits_never_reach_the_timeline() -> None:
    d = Driver(make_config(collect_plan(sensitive=True, min_digits=16, max_digits=16)), "ask")
    assert d.start()[0] == StartCollect("ask", True)
    card = "4970101234567890"
    d.press(card[:3])  # barge in
    d.finish_prompt()  # stale end of the stopped prompt
    d.press("1#")      # too short: refused
    d.finish_prompt()
    d.press(card)
    assert d.run.context.variables["account"] == card
    assert d.run.context.loggable_variables() == {"account": "***"}
    text = repr(d.timeline) + repr(d.actions)
    for fragment in (card, card[:3], card[-4:], "1#"):
        assert fragment not in text
    assert len(d.events("digit-masked")) == 3 + 2 + 16
    assert not d.events("digit")
    assert StopCollect("ask") in d.actions


def test_recording_nodes_pause_around_a_card_number_and_resume() -> None:
    ivr = {"card": {"type": "recording", "action": "pause", "next": "ask"},
           **collect_plan(sensitive=True, min_digits=16, max_digits=16)}
    ivr["ask"]["next"] = "resume"
    ivr["resume"] = {"type": "recording", "action": "resume", "next": "done"}
    d = Driver(make_config(ivr), "card")
    first = d.start()
    assert first[0] == RecordingControl("pause", "card")  # before the collect starts: no key is recorded
    assert first.index(RecordingControl("pause", "card")) < first.index(StartCollect("ask", True))
    d.finish_prompt()
    out = d.press("4970101234567890")
    assert RecordingControl("resume", "resume") in out
    assert [e.data["action"] for e in d.events("recording")] == ["pause", "resume"]
    assert d.nodes()[:3] == ["card", "ask", "resume"]


def test_sensitive_entry_after_barge_in_play_is_masked_too() -> None:
    ivr = {"intro": {"type": "play", "prompts": "a", "barge_in": True, "next": "ask"},
           **collect_plan(sensitive=True)}
    d = Driver(make_config(ivr), "intro")
    d.start()
    d.press("5")
    d.press("6#")
    assert d.run.context.variables["account"] == "56"
    assert not d.events("digit") and len(d.events("digit-masked")) == 3


# ----------------------------------------------------------------------------------- goto, set, language


def test_goto_and_set_build_the_queue_request() -> None:
    ivr = {
        "a": {"type": "goto", "next": "b"},
        "b": {"type": "set", "priority": 5, "skills": {"billing": 2}, "variables": {"tier": "gold"}, "next": "q"},
        "q": {"type": "queue", "queue": "support", "required_skills": {"billing": 3, "french": 1},
              "preferred_skills": {"vip": 2}},
    }
    d = Driver(make_config(ivr), "a")
    out = d.start()
    assert out == [EnterQueue("support", 5, {"billing": 3, "french": 1}, {"vip": 2}, "en", None)]
    assert d.run.context.variables == {"tier": "gold"}
    assert d.nodes() == ["a", "b", "q"]


def test_language_switch_changes_the_prompt_set() -> None:
    ivr = {"lang": {"type": "language", "prompts": ["language-en", "language-fr"], "options": {1: "en", 2: "fr"},
                    "next": "main"}, **MENU}
    d = Driver(make_config(ivr, prompts={"languages": ["en", "fr"]}), "lang")
    assert d.start()[-1] == Play(("language-en", "language-fr"), "en", True)
    d.finish_prompt()
    out = d.press("2")
    assert out[-1] == Play(("welcome", "main-menu"), "fr", True)
    assert d.run.context.language == "fr"
    assert d.run.sayer.code == "fr"
    d.finish_prompt()
    out = d.press("1")
    assert isinstance(out[-1], EnterQueue) and out[-1].language == "fr"  # the queue hears the caller's language


def test_language_timeout_keeps_the_language() -> None:
    ivr = {"lang": {"type": "language", "prompts": "l", "options": {2: "fr"}, "timeout": "5s", "next": "bye"},
           "bye": {"type": "hangup", "prompts": "goodbye"}}
    d = Driver(make_config(ivr, prompts={"languages": ["en", "fr"]}), "lang", language="en")
    d.start()
    d.finish_prompt()
    out = d.advance(5.0)
    assert out[-1] == Play(("goodbye",), "en", False)


# ------------------------------------------------------------------------------------------------ hours


HOURS_PLAN = {
    "h": {"type": "hours", "schedule": "office", "open": "o", "closed": "c", "holiday": "x"},
    "o": {"type": "hangup", "prompts": "open"},
    "c": {"type": "hangup", "prompts": "closed"},
    "x": {"type": "hangup", "prompts": "holiday"},
}
SCHEDULES = {"office": {"timezone": "Europe/Paris", "hours": [{"days": "mon-fri", "open": "09:00", "close": "18:00"}],
                        "holidays": ["2026-12-25"]}}


@pytest.mark.parametrize(
    ("utc", "branch"),
    [
        (dt.datetime(2026, 3, 27, 7, 59), "closed"),   # Friday before DST: 08:59 in Paris (UTC+1)
        (dt.datetime(2026, 3, 27, 8, 0), "open"),      # 09:00 in Paris
        (dt.datetime(2026, 3, 27, 16, 59), "open"),    # 17:59 in Paris
        (dt.datetime(2026, 3, 27, 17, 0), "closed"),   # 18:00
        (dt.datetime(2026, 3, 30, 7, 0), "open"),      # Monday after DST: 09:00 in Paris (UTC+2)
        (dt.datetime(2026, 3, 30, 6, 59), "closed"),   # 08:59 in Paris; open in winter time
        (dt.datetime(2026, 3, 30, 15, 59), "open"),    # 17:59
        (dt.datetime(2026, 3, 30, 16, 0), "closed"),   # 18:00 in Paris, 17:00 in winter time
        (dt.datetime(2026, 3, 29, 10, 0), "closed"),   # Sunday
        (dt.datetime(2026, 12, 25, 10, 0), "holiday"),
        (dt.datetime(2026, 12, 24, 23, 30), "holiday"),  # already the 25th in Paris
    ],
)
def test_hours_across_dst_and_holidays(utc: dt.datetime, branch: str) -> None:
    d = Driver(make_config(HOURS_PLAN, schedules=SCHEDULES), "h", start_at=utc.replace(tzinfo=dt.UTC))
    out = d.start()
    assert plays(out) == [({"open": "open", "closed": "closed", "holiday": "holiday"}[branch],)]
    assert d.events("hours")[0].data["status"] == branch


def test_hours_uses_the_run_clock_not_the_start() -> None:
    plan = {"wait": {"type": "play", "prompts": "w", "next": "h"}, **HOURS_PLAN}
    d = Driver(make_config(plan, schedules=SCHEDULES), "wait", start_at=dt.datetime(2026, 3, 27, 16, 59, tzinfo=dt.UTC))
    d.start()
    out = d.finish_prompt(after=90.0)  # the office closed while the prompt played
    assert plays(out) == [("closed",)]


# ------------------------------------------------------------------------------------------ lookup, queue


def test_lookup_attaches_profile_and_language() -> None:
    ivr = {"who": {"type": "lookup", "next": "q"}, "q": {"type": "queue", "queue": "sales"}}
    d = Driver(make_config(ivr, prompts={"languages": ["en", "fr"]}), "who")
    assert d.start() == [LookupCaller("+33612345678", "caller-id")]
    assert d.run.phase is Phase.LOOKING_UP
    profile = CallerProfile("+33612345678", True, "Ana", priority=7, language="fr", last_agent="1001",
                            previous_calls=4)
    d.run.lookup_result(profile, d.now)
    assert d.pull() == [EnterQueue("sales", 7, {}, {}, "fr", None)]
    assert d.run.context.caller == profile
    assert d.events("caller-identified")[0].data["known"] is True


def test_lookup_of_a_withheld_number_is_skipped_and_unknown_callers_continue() -> None:
    ivr = {"who": {"type": "lookup", "next": "q"}, "q": {"type": "queue", "queue": "sales"}}
    d = Driver(make_config(ivr), "who", caller=None)
    assert isinstance(d.start()[-1], EnterQueue)
    d2 = Driver(make_config(ivr), "who")
    d2.start()
    d2.run.lookup_result(CallerProfile("+33612345678", known=False), d2.now)
    assert isinstance(d2.pull()[-1], EnterQueue)
    assert d2.events("caller-identified")[0].data["known"] is False


def test_lookup_by_variable() -> None:
    ivr = {**collect_plan(next="who"),
           "who": {"type": "lookup", "by": "variable", "variable": "account", "next": "done"}}
    d = Driver(make_config(ivr), "ask")
    d.start()
    d.finish_prompt()
    assert d.press("77#")[-1] == LookupCaller("77", "variable")


QUEUE_PLAN = {
    "q": {"type": "queue", "queue": "sales", "exit_key": "*", "on_exit": {"timeout": "vm", "key": "bye"}},
    "vm": {"type": "voicemail", "mailbox": "sales", "greeting": "leave-message", "max_length": "1m", "next": "bye"},
    "bye": {"type": "hangup", "prompts": "goodbye"},
    "spill": {"type": "hangup", "prompts": "spill"},
}


def test_queue_timeout_goes_to_on_exit_then_voicemail() -> None:
    d = Driver(make_config(QUEUE_PLAN), "q")
    d.start()
    d.run.queue_result(ExitReason.TIMEOUT, d.now)
    assert d.pull() == [Play(("leave-message",), "en", False)]
    out = d.finish_prompt()
    assert out == [RecordVoicemail("sales", 60.0, 5.0, True)]
    d.run.recording_finished(12.5, "silence", d.now)
    assert plays(d.pull()) == [("goodbye",)]
    assert d.events("voicemail-recorded")[0].data == {"duration": 12.5, "reason": "silence"}


def test_queue_exit_key_leaves_the_queue() -> None:
    d = Driver(make_config(QUEUE_PLAN), "q")
    entered = d.start()[-1]
    assert isinstance(entered, EnterQueue) and entered.exit_key == "*"
    assert d.press("5") == []  # any other key stays in the queue
    out = d.press("*")
    assert out[0] == LeaveQueue("sales", "key")
    assert d.run.node == "bye"


def test_queue_without_on_exit_uses_the_queue_overflow() -> None:
    queues = {"sales": {"overflow": {"full": {"node": "spill"}, "empty": {"voicemail": "sales"}}}, "support": {}}
    d = Driver(make_config(QUEUE_PLAN, queues=queues), "q")
    d.start()
    d.run.queue_result("queue-full", d.now)
    assert plays(d.pull()) == [("spill",)]
    d2 = Driver(make_config(QUEUE_PLAN, queues=queues), "q")
    d2.start()
    d2.run.queue_result("empty", d2.now)
    assert d2.pull() == [RecordVoicemail("sales", 120.0, 5.0, True)]


def test_queue_overflow_to_another_queue_and_to_nothing() -> None:
    queues = {"sales": {"overflow": {"empty": {"queue": "support"}}}, "support": {}}
    d = Driver(make_config(QUEUE_PLAN, queues=queues), "q")
    d.start()
    d.run.queue_result("join-empty", d.now)
    assert d.pull() == [EnterQueue("support", 0, {}, {}, "en", None)]
    d.run.queue_result("timeout", d.now)  # support has no overflow: goodbye
    assert d.pull() == [Play(("goodbye",), "en", False)]
    assert d.finish_prompt() == [Hangup("queue timeout")]


def test_queue_answered_ends_the_ivr_and_late_inputs_are_ignored() -> None:
    d = Driver(make_config(QUEUE_PLAN), "q")
    d.start()
    d.run.queue_result("answered", d.now)
    assert d.run.finished and d.pull() == []
    d.run.digit("1", d.now)
    d.run.prompt_finished(d.now)
    d.run.queue_result("timeout", d.now)
    d.run.hangup(d.now)
    assert d.pull() == []


def test_queue_callback_exit_plays_booked_and_hangs_up() -> None:
    d = Driver(make_config(QUEUE_PLAN), "q")
    d.start()
    d.run.queue_result(ExitReason.CALLBACK_REQUESTED, d.now)
    assert d.pull() == [Play(("callback-booked",), "en", False)]  # the router booked it already


def test_misuse_is_a_local_error() -> None:
    d = Driver(make_config(QUEUE_PLAN), "q")
    with pytest.raises(LocalProtocolError):
        d.run.queue_result("timeout", 0.0)  # before start
    d.start()
    with pytest.raises(LocalProtocolError):
        d.run.lookup_result(None, d.now)
    with pytest.raises(LocalProtocolError):
        d.run.queue_result("lunch", d.now)
    with pytest.raises(LocalProtocolError):
        d.run.digit("A", d.now)
    with pytest.raises(LocalProtocolError):
        d.run.start(d.now)


# ------------------------------------------------------------------------------ transfer, operator, voicemail


def test_transfer_with_announce_and_failure_branch() -> None:
    ivr = {"t": {"type": "transfer", "agent": "1001", "announce": "connecting", "ring_timeout": "20s",
                 "on_failure": "bye"}, "bye": {"type": "hangup"}}
    d = Driver(make_config(ivr), "t")
    assert d.start() == [Play(("connecting",), "en", False)]
    assert d.finish_prompt() == [Transfer("agent", "1001", None, 20.0)]
    d.run.transfer_result(False, d.now)
    assert d.pull() == [Hangup("hangup node")]


def test_transfer_to_outside_number_and_answered() -> None:
    ivr = {"t": {"type": "transfer", "number": "0612345678", "route": "outside"}}
    d = Driver(make_config(ivr), "t")
    assert d.start() == [Transfer("number", "0612345678", "outside", 30.0)]
    d.run.transfer_result(True, d.now)
    assert d.run.finished and d.pull() == []


def test_operator_extension_transfers() -> None:
    d = Driver(make_config({"op": {"type": "operator", "extension": "1003"}}), "op")
    assert d.start() == [Transfer("extension", "1003", None, 30.0)]


def test_voicemail_without_greeting_records_at_once_and_hangs_up_after() -> None:
    ivr = {"vm": {"type": "voicemail", "mailbox": "1001", "beep": False, "silence_stop": "3s"}}
    d = Driver(make_config(ivr), "vm")
    assert d.start() == [RecordVoicemail("1001", 120.0, 3.0, False)]
    d.press("#")  # the recorder stops on '#'; the interpreter only notes the key
    d.run.recording_finished(4.0, "key", d.now)
    assert d.pull() == [Hangup("voicemail left")]


# ------------------------------------------------------------------------------------- callback, survey


CALLBACK_PLAN = {"cb": {"type": "callback", "prompts": "callback-offer", "queue": "sales"}}


def test_callback_reads_the_number_back_and_books_on_1() -> None:
    d = Driver(make_config(CALLBACK_PLAN), "cb", caller="0612")
    d.start()
    out = d.finish_prompt()
    assert plays(out) == [("callback-number-is", "num-0", "num-6", "num-1", "num-2", "callback-confirm")]
    d.finish_prompt()
    out = d.press("1")
    assert RequestCallback("0612", "sales") in out
    assert plays(out) == [("callback-booked",)]
    assert d.finish_prompt() == [Hangup("callback")]


def test_callback_key_during_the_offer_skips_to_the_confirmation() -> None:
    d = Driver(make_config(CALLBACK_PLAN), "cb", caller="07")
    d.start()
    out = d.press("1")
    assert out[0] == StopPlayback()
    assert plays(out) == [("callback-number-is", "num-0", "num-7", "callback-confirm")]


def test_callback_another_number() -> None:
    d = Driver(make_config(CALLBACK_PLAN), "cb", caller="0612")
    d.start()
    d.finish_prompt()
    out = d.press("2")
    assert plays(out) == [("callback-enter-number",)]
    d.finish_prompt()
    out = d.press("0798#")
    assert plays(out)[0][-2:] == ("num-8", "callback-confirm")
    out = d.press("1")
    assert RequestCallback("0798", "sales") in out


def test_callback_for_withheld_number_asks_for_one_without_confirm() -> None:
    plan = {"cb": {"type": "callback", "prompts": "offer", "confirm": False, "next": "bye"},
            "q": {"type": "queue", "queue": "support"}, "bye": {"type": "hangup"}}
    d = Driver(make_config(plan), "cb", caller=None)
    d.start()
    assert plays(d.finish_prompt()) == [("callback-enter-number",)]
    out = d.press("0555#")
    assert out[-3:] == [RequestCallback("0555", None), StopCollect("cb"), Hangup("hangup node")]


def test_survey_scores() -> None:
    plan = {"s": {"type": "survey", "prompts": "nps", "thanks_prompt": "thanks", "next": None}}
    for keys, score in (("7", 7), ("10", 10), ("1#", 1), ("0", 0)):
        d = Driver(make_config(plan), "s")
        d.start()
        d.finish_prompt()
        out = d.press(keys)
        assert StoreSurvey("nps", score) in out, keys
        assert d.finish_prompt() == [Hangup("survey done")]
    d = Driver(make_config(plan), "s")
    d.start()
    d.finish_prompt()
    d.press("1")
    assert StoreSurvey("nps", 1) in d.advance(3.0)  # no second key: it was a 1
    d = Driver(make_config(plan), "s")
    d.start()
    d.finish_prompt()
    assert d.advance(10.0) == [StopCollect("s"), Hangup("survey done")]


# ----------------------------------------------------------------------------------- hangup, loops, timeline


def test_caller_hangup_anywhere_ends_the_run() -> None:
    d = Driver(make_config(MENU), "main")
    d.start()
    d.run.hangup(d.now)
    assert d.pull() == [StopCollect("main")]
    assert d.run.finished and d.run.get_timer() is None
    assert d.events("caller-hangup")[0].data == {"phase": "playing"}


def test_a_goto_loop_is_hung_up() -> None:
    d = Driver(make_config({"a": {"type": "goto", "next": "b"}, "b": {"type": "goto", "next": "a"}}), "a")
    out = d.start()
    assert len(out) == 1 and isinstance(out[0], Hangup) and "loop" in out[0].cause


def test_every_node_entered_is_on_the_timeline_with_its_time() -> None:
    d = Driver(make_config(MENU), "main")
    d.start()
    d.finish_prompt(after=3.0)
    d.press("2", gap=2.0)
    assert [(e.node, e.at) for e in d.events("node")] == [("main", 0.0), ("bye", 5.0)]
