"""``voxcenter check`` reports a prompt missing in a language a number or menu can reach, saying where that
language comes from (file:line:column); a prompt missing only in a language nothing reaches is a warning."""

from __future__ import annotations

import textwrap
from pathlib import Path

from voxcenter.config import analyse, load_config
from voxcenter.config.reach import language_reach

PLAN = textwrap.dedent("""\
    prompts:
      directory: prompts
      languages: [en, pl, lv, hr]
      caller_languages: {'+48': pl}
    numbers:
      '100': {node: welcome}
      '200': {node: latvian, language: lv}
      '300': {node: english, language: en}
    ivr:
      welcome:
        type: language
        prompts: choose
        options: {4: hr}
        next: queue
      queue: {type: queue, queue: help, on_exit: {timeout: sorry}}
      latvian: {type: play, prompts: hello, next: croatian}
      croatian: {type: set, language: hr, next: bye}
      english: {type: lookup, next: known}
      known: {type: play, prompts: hello}
      sorry: {type: hangup, prompts: sorry}
      bye: {type: hangup, prompts: bye}
    queues:
      help:
        max_wait: 1m
        announcements: {music_on_hold: moh}
    agents:
      '1001': {name: A, password: pw, queues: [help]}
    """)
PROMPTS = {"choose": ("en", "pl", "hr"), "moh": ("en", "hr"), "sorry": ("en", "pl", "hr"), "hello": ("en", "lv"),
           "bye": ("hr",)}
"""Prompt -> the languages it exists in."""


def write(tmp_path: Path) -> Path:
    for name, languages in PROMPTS.items():
        for language in languages:
            (tmp_path / "prompts" / language).mkdir(parents=True, exist_ok=True)
            (tmp_path / "prompts" / language / f"{name}.wav").write_bytes(b"")
    path = tmp_path / "voxcenter.yaml"
    path.write_text(PLAN)
    return path


def line_of(text: str) -> int:
    """The line of ``text`` in the plan (1-based)."""
    return PLAN.splitlines().index(text) + 1


def test_the_languages_each_node_and_queue_can_be_reached_in(tmp_path: Path) -> None:
    config = load_config(write(tmp_path), check_prompts=False)
    reach = language_reach(config)
    assert reach.nodes["welcome"] == {"en": ("numbers", "100"), "pl": ("prompts", "caller_languages", "+48")}
    assert set(reach.nodes["queue"]) == set(reach.queues["help"]) == set(reach.nodes["sorry"]) == {"en", "pl", "hr"}
    assert reach.queues["help"]["hr"] == ("ivr", "welcome", "options", "4")
    assert reach.nodes["latvian"] == {"lv": ("numbers", "200", "language")}
    assert reach.nodes["bye"] == {"hr": ("ivr", "croatian", "language")}  # the set node replaced lv
    assert reach.nodes["known"] == {"en": ("numbers", "300", "language"), "pl": ("ivr", "english"),
                                    "lv": ("ivr", "english"), "hr": ("ivr", "english")}  # a customer record's


def test_a_prompt_missing_in_a_reachable_language_is_an_error_that_says_what_reaches_it(tmp_path: Path) -> None:
    path = write(tmp_path)
    issues, config = analyse(path)
    assert config is None
    lookup = f"{path}:{line_of('  english: {type: lookup, next: known}')}:3"
    prefix_line = line_of("  caller_languages: {'+48': pl}")
    prefix = f"{path}:{prefix_line}:22"
    assert [(issue.severity, issue.line, issue.column, issue.message) for issue in issues
            if issue.severity == "error"] == [
        # 'hello' exists in en and lv, where 'latvian' plays it; after the lookup any language can be current.
        ("error", line_of("  known: {type: play, prompts: hello}"), 23,
         "prompt 'hello' is missing: no prompts/pl/hello.wav, prompts/hr/hello.wav (nor .mp3, .flac, .ogg); "
         f"pl is reached through the customer record of lookup node 'english' at {lookup}; "
         f"hr is reached through the customer record of lookup node 'english' at {lookup}"),
        # 'bye' exists in hr only: the set node made every caller reaching it Croatian.
        # 'moh' is played to the queue's callers, who came in en, pl (+48) or hr (key 4); lv never reaches it.
        ("error", line_of("    announcements: {music_on_hold: moh}"), 36,
         "prompt 'moh' is missing: no prompts/pl/moh.wav (nor .mp3, .flac, .ogg); pl is reached through "
         f"callers from +48 (prompts.caller_languages) at {prefix}"),
    ]
