"""Language selection: the number's language, the caller's number prefix (longest wins, national formats),
the caller's IVR choice and the customer record; the language current at the queue is what the router gets."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from voxcenter.config import Config, ConfigError, load_config
from voxcenter.ivr import CallerProfile, EnterQueue, Play, caller_prefix, starting_language

from .driver import Driver, make_config

ROOT = Path(__file__).resolve().parents[2]
WEDNESDAY_NOON = dt.datetime(2026, 6, 3, 10, 0, tzinfo=dt.UTC)
"""Sales is open (12:00 in Paris)."""
RULES = {"+48": "pl", "+371": "lv", "+40": "ro", "+385": "hr", "+3": "fr", "0048": "pl", "0": "ro"}


@pytest.fixture(scope="module")
def plan() -> Config:
    return load_config(ROOT / "config" / "voxcenter.yaml")


@pytest.mark.parametrize(
    ("caller", "prefix"),
    [("+48221234567", "+48"), ("+371 2912 3456", "+371"), ("+40-721-234-567", "+40"), ("+385911234567", "+385"),
     ("+33612345678", "+3"), ("0048221234567", "0048"), ("0721234567", "0"), ("+4912345", None), ("", None),
     (None, None), ("anonymous", None)],
)
def test_longest_prefix_wins_and_separators_are_ignored(caller: str | None, prefix: str | None) -> None:
    assert caller_prefix(RULES, caller) == prefix


@pytest.mark.parametrize(
    ("caller", "language"),
    [("+48221234567", "pl"), ("+37129123456", "lv"), ("+40721234567", "ro"), ("+385911234567", "hr"),
     ("0048221234567", "pl"), ("00371291234567", "lv"), ("+33612345678", "en"), (None, "en")],
)
def test_the_example_greets_each_country_in_its_language(plan: Config, caller: str | None, language: str) -> None:
    d = Driver(plan, plan.numbers["100"].node, caller=caller)
    assert d.start()[-1] == Play(("main-menu",), language, True)
    assert [e.data for e in d.events("language")] == (
        [] if language == "en" else [{"language": language, "prefix": caller_prefix(plan.prompts.caller_languages,
                                                                                      caller)}])


def test_polish_caller_reaches_the_queue_in_polish(plan: Config) -> None:
    d = Driver(plan, plan.numbers["100"].node, caller="+48221234567", start_at=WEDNESDAY_NOON)
    d.start()
    d.finish_prompt()
    d.press("1")
    entered = d.actions[-1]
    assert isinstance(entered, EnterQueue) and (entered.queue, entered.language) == ("sales", "pl")


def test_the_numbers_own_language_comes_before_the_prefix() -> None:
    config = make_config({"main": {"type": "hangup", "prompts": "goodbye"}},
                         prompts={"languages": ["en", "fr", "pl"], "caller_languages": {"+48": "pl"}})
    assert starting_language(config, "fr", "+48221234567").language == "fr"
    assert starting_language(config, None, "+48221234567").source == "caller-prefix"
    assert starting_language(config, None, "+33612345678").source == "default"


def test_the_caller_chooses_a_language_in_the_menu(plan: Config) -> None:
    d = Driver(plan, plan.numbers["100"].node, caller="+48221234567")
    d.start()
    d.finish_prompt()
    d.press("3")  # "change language"
    assert d.actions[-1] == Play(
        ("language-en", "language-fr", "language-pl", "language-lv", "language-ro", "language-hr"), "pl", True)
    d.finish_prompt()
    d.press("6")
    assert d.actions[-1] == Play(("main-menu",), "hr", True)
    assert d.run.context.language == "hr"


def test_the_customer_record_sets_the_language(plan: Config) -> None:
    d = Driver(plan, plan.numbers["101"].node, caller="+48221234567")
    d.start()
    d.run.lookup_result(CallerProfile(key="+48221234567", known=True, language="lv"), d.now)
    d.pull()
    entered = d.actions[-1]
    assert isinstance(entered, EnterQueue) and entered.language == "lv"  # the record beats the prefix


def test_a_prefix_to_an_unavailable_language_is_refused(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "numbers:\n  '100': {node: bye}\nivr:\n  bye: {type: hangup}\nqueues: {}\n"
        "prompts:\n  languages: [en]\n  caller_languages:\n    '+48': pl\n")
    with pytest.raises(ConfigError) as refused:
        load_config(plan, check_prompts=False)
    assert "plan.yaml:9:12: callers from +48 get language 'pl', which is not in prompts.languages" in str(
        refused.value)

