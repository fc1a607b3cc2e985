"""Sayers: numbers, ordinals and durations as fragments, in English, French and digit by digit."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ruamel.yaml import YAML

from voxcenter.ivr.sayers import MAX_WORDS, DigitSayer, EnglishSayer, FrenchSayer, Sayer, sayer_for

EN = EnglishSayer()
FR = FrenchSayer()

# The fragment texts of prompts/sayers.yaml, to read a sayer's output as words.
_TEXTS = YAML(typ="safe").load((Path(__file__).resolve().parents[2] / "prompts" / "sayers.yaml").read_text("utf-8"))
EN_WORDS = {name: texts["en"] for name, texts in _TEXTS.items() if "en" in texts}
FR_WORDS = {name: texts["fr"] for name, texts in _TEXTS.items() if "fr" in texts}


def words(fragments: list[str], table: dict[str, str]) -> str:
    return " ".join(table[f] for f in fragments)


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "zero"), (7, "seven"), (13, "thirteen"), (20, "twenty"), (21, "twenty one"), (99, "ninety nine"),
        (100, "one hundred"), (105, "one hundred five"), (342, "three hundred forty two"),
        (1000, "one thousand"), (1001, "one thousand one"), (12_345, "twelve thousand three hundred forty five"),
        (999_999, "nine hundred ninety nine thousand nine hundred ninety nine"),
    ],
)
def test_english_numbers(n: int, text: str) -> None:
    assert words(EN.number(n), EN_WORDS) == text


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "zéro"), (1, "un"), (16, "seize"), (17, "dix-sept"), (21, "vingt et un"), (22, "vingt deux"),
        (61, "soixante et un"), (70, "soixante dix"), (71, "soixante et onze"), (77, "soixante dix-sept"),
        (80, "quatre-vingts"), (81, "quatre-vingts un"), (90, "quatre-vingts dix"), (91, "quatre-vingts onze"),
        (99, "quatre-vingts dix-neuf"), (100, "cent"), (101, "cent un"), (200, "deux cent"),
        (1000, "mille"), (1001, "mille un"), (2000, "deux mille"), (21_000, "vingt et un mille"),
        (100_000, "cent mille"), (999_999, "neuf cent quatre-vingts dix-neuf mille neuf cent quatre-vingts dix-neuf"),
    ],
)
def test_french_numbers(n: int, text: str) -> None:
    assert words(FR.number(n), FR_WORDS) == text


@pytest.mark.parametrize(
    ("sayer", "n", "fragments"),
    [
        (EN, 1, ["ord-1"]), (EN, 3, ["ord-3"]), (EN, 21, ["num-20", "ord-1-compound"]),
        (EN, 100, ["num-1", "ord-hundred"]), (EN, 1000, ["num-1", "ord-thousand"]),
        (FR, 1, ["ord-1"]), (FR, 21, ["num-20", "and", "ord-1-compound"]), (FR, 80, ["ord-80"]),
        (FR, 71, ["num-60", "and", "ord-11"]), (FR, 1000, ["ord-thousand"]), (FR, 90, ["num-80", "ord-10"]),
    ],
)
def test_ordinals(sayer: Sayer, n: int, fragments: list[str]) -> None:
    assert sayer.ordinal(n) == fragments


def test_feminine_one_for_minutes_in_french() -> None:
    assert FR.duration(60) == ["about", "num-1-f", "minute"]
    assert FR.number(21, feminine=True) == ["num-20", "and", "num-1-f"]
    assert EN.number(1, feminine=True) == ["num-1-f"]  # "one" in English too


@pytest.mark.parametrize(
    ("seconds", "fragments"),
    [
        (0, ["less-than-a-minute"]), (59.9, ["less-than-a-minute"]), (60, ["about", "num-1-f", "minute"]),
        (4 * 60 + 20, ["about", "num-4", "minutes"]), (4 * 60 + 40, ["about", "num-5", "minutes"]),
        (13 * 60, ["about", "num-15", "minutes"]), (20 * 60, ["about", "num-20", "minutes"]),
        (23 * 60, ["more-than", "num-20", "minutes"]), (5 * 3600, ["more-than", "num-20", "minutes"]),
    ],
)
def test_english_durations(seconds: float, fragments: list[str]) -> None:
    assert EN.duration(seconds) == fragments


def test_announcements() -> None:
    assert EN.position(3) == ["caller-number", "num-3"]
    assert FR.position(10, more_than=True) == ["at-least", "num-10", "callers-ahead"]
    assert EN.announcement(2, False, 240.0) == ["caller-number", "num-2", "expected-wait", "about", "num-4", "minutes"]
    assert EN.announcement(2, False, None) == ["caller-number", "num-2"]


def test_language_without_sayer_falls_back_to_digits_never_silence() -> None:
    de = sayer_for("de")
    assert type(de) is DigitSayer
    assert de.position(42) == ["caller-number", "num-4", "num-2"]
    assert de.duration(300) == ["about", "num-5", "minutes"]
    assert de.ordinal(3) == ["num-3"]
    assert EN.number(1_234_567) == ["num-1", "num-2", "num-3", "num-4", "num-5", "num-6", "num-7"]


def test_sayer_choice() -> None:
    assert sayer_for("fr-CA").code == "fr"
    assert sayer_for("pt", {"pt": "en"}).code == "en"
    assert sayer_for("en", {"en": "klingon"}).code == "digits"


def test_digits_and_keys() -> None:
    assert EN.digits("+33*#") == ["key-plus", "num-3", "num-3", "key-star", "key-hash"]


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3"])
def test_bad_numbers_are_refused_clearly(bad: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        EN.number(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ordinals start at 1"):
        FR.ordinal(0)
    with pytest.raises(ValueError, match="cannot say 'x'"):
        EN.digits("12x")
    with pytest.raises(ValueError, match="finite"):
        EN.duration(float("nan"))


@given(st.integers(min_value=0, max_value=2 * MAX_WORDS), st.sampled_from([EN, FR, DigitSayer()]))
def test_every_number_is_said_with_known_fragments(n: int, sayer: Sayer) -> None:
    for said in (sayer.number(n), sayer.ordinal(n + 1), sayer.duration(float(n)), sayer.position(n + 1)):
        assert said and set(said) <= sayer.fragments


@given(st.integers(min_value=0, max_value=MAX_WORDS))
def test_english_numbers_are_unambiguous(n: int) -> None:
    # Reading the words back gives the number: a small parser of the fragments.
    total, current = 0, 0
    for fragment in EN.number(n):
        if fragment == "num-hundred":
            current *= 100
        elif fragment == "num-thousand":
            total, current = total + current * 1000, 0
        else:
            current += int(fragment.removeprefix("num-"))
    assert total + current == n


@given(st.integers(min_value=0, max_value=MAX_WORDS))
def test_french_numbers_are_unambiguous(n: int) -> None:
    total, current = 0, 0
    for fragment in FR.number(n):
        if fragment == "and":
            continue
        if fragment == "num-hundred":
            current = max(current, 1) * 100  # "cent" alone is 100; "deux cent" multiplies
        elif fragment == "num-thousand":
            total, current = max(current, 1) * 1000, 0
        else:
            current += int(fragment.removeprefix("num-"))
    assert total + current == n
