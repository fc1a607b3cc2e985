"""Polish, Latvian, Romanian and Croatian sayers: expected word sequences per rule, read back as the words
of prompts/sayers.yaml, and what every sayer needs from its language's prompt files.

The tables follow the grammar of each language (see the module docstrings of voxcenter/ivr/sayers/): the
plural categories come from CLDR (1; 2-4; 5-21; 22-24; 101; 1000...), the number agrees with its noun.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ruamel.yaml import YAML

from voxcenter.ivr.sayers import MAX_WORDS, SAYERS, Sayer, plural_category, sayer_for

_TEXTS = YAML(typ="safe").load((Path(__file__).resolve().parents[2] / "prompts" / "sayers.yaml").read_text("utf-8"))
PL, LV, RO, HR = (SAYERS[code] for code in ("pl", "lv", "ro", "hr"))


def said(sayer: Sayer, fragments: list[str]) -> str:
    """The fragments as the words the caller hears."""
    return " ".join(_TEXTS[name][sayer.code] for name in fragments)


# --- plural categories: CLDR through Babel ------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("language", "categories"),
    [
        ("pl", {1: "one", 2: "few", 4: "few", 5: "many", 12: "many", 21: "many", 22: "few", 25: "many", 101: "many",
                102: "few", 112: "many", 1000: "many", 0: "many"}),
        ("lv", {0: "zero", 1: "one", 2: "other", 10: "zero", 11: "zero", 21: "one", 22: "other", 101: "one",
                111: "zero", 1000: "zero"}),
        ("ro", {0: "few", 1: "one", 2: "few", 19: "few", 20: "other", 21: "other", 100: "other", 101: "few",
                119: "few", 120: "other", 1000: "other"}),
        ("hr", {0: "other", 1: "one", 2: "few", 4: "few", 5: "other", 11: "other", 12: "other", 21: "one",
                22: "few", 101: "one", 111: "other", 1000: "other"}),
    ],
)
def test_plural_categories_come_from_cldr(language: str, categories: dict[int, str]) -> None:
    assert {n: plural_category(language, n) for n in categories} == categories


# --- Polish ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "zero"), (1, "jeden"), (2, "dwa"), (5, "pięć"), (12, "dwanaście"), (21, "dwadzieścia jeden"),
        (22, "dwadzieścia dwa"), (100, "sto"), (101, "sto jeden"), (200, "dwieście"),
        (345, "trzysta czterdzieści pięć"),
        (1000, "tysiąc"), (1001, "tysiąc jeden"), (2000, "dwa tysiące"), (5000, "pięć tysięcy"),
        (12_000, "dwanaście tysięcy"), (21_000, "dwadzieścia jeden tysięcy"), (22_000, "dwadzieścia dwa tysiące"),
        (999_999, "dziewięćset dziewięćdziesiąt dziewięć tysięcy dziewięćset dziewięćdziesiąt dziewięć"),
    ],
)
def test_polish_cardinals(n: int, text: str) -> None:
    assert said(PL, PL.number(n)) == text


@pytest.mark.parametrize(
    ("n", "minutes", "seconds"),
    [
        (0, "zero minut", "zero sekund"), (1, "jedna minuta", "jedna sekunda"), (2, "dwie minuty", "dwie sekundy"),
        (4, "cztery minuty", "cztery sekundy"), (5, "pięć minut", "pięć sekund"), (12, "dwanaście minut", None),
        (14, "czternaście minut", None), (21, "dwadzieścia jeden minut", "dwadzieścia jeden sekund"),
        (22, "dwadzieścia dwie minuty", "dwadzieścia dwie sekundy"), (24, "dwadzieścia cztery minuty", None),
        (25, "dwadzieścia pięć minut", None), (101, "sto jeden minut", None), (102, "sto dwie minuty", None),
        (112, "sto dwanaście minut", None), (1000, "tysiąc minut", None), (1002, "tysiąc dwie minuty", None),
    ],
)
def test_polish_counted_minutes_and_seconds(n: int, minutes: str, seconds: str | None) -> None:
    assert said(PL, PL.count(n, "minute")) == minutes
    if seconds is not None:
        assert said(PL, PL.count(n, "second")) == seconds


@pytest.mark.parametrize(
    ("n", "f_ins", "m_nom", "m_gen"),
    [
        (1, "pierwszą", "pierwszy", "pierwszego"), (2, "drugą", "drugi", "drugiego"),
        (3, "trzecią", "trzeci", "trzeciego"), (4, "czwartą", "czwarty", "czwartego"),
        (5, "piątą", "piąty", "piątego"), (12, "dwunastą", "dwunasty", "dwunastego"),
        (21, "dwudziestą pierwszą", "dwudziesty pierwszy", "dwudziestego pierwszego"),
        (22, "dwudziestą drugą", "dwudziesty drugi", "dwudziestego drugiego"),
        (30, "trzydziestą", "trzydziesty", "trzydziestego"),
        (100, "setną", "setny", "setnego"), (101, "sto pierwszą", "sto pierwszy", "sto pierwszego"),
        (125, "sto dwudziestą piątą", "sto dwudziesty piąty", "sto dwudziestego piątego"),
        (200, "dwusetną", "dwusetny", "dwusetnego"), (1000, "tysięczną", "tysięczny", "tysięcznego"),
    ],
)
def test_polish_ordinals_in_gender_and_case(n: int, f_ins: str, m_nom: str, m_gen: str) -> None:
    assert said(PL, PL.ordinal(n, "f-ins")) == f_ins
    assert said(PL, PL.ordinal(n)) == m_nom
    assert said(PL, PL.ordinal(n, "m-gen")) == m_gen


def test_polish_announcements() -> None:
    assert said(PL, PL.position(3)) == "Jesteś trzecią osobą w kolejce."
    assert said(PL, PL.position(1)) == "Jesteś pierwszą osobą w kolejce."
    assert said(PL, PL.position(22)) == "Jesteś dwudziestą drugą osobą w kolejce."
    assert said(PL, PL.position(10, more_than=True)) == "Masz przed sobą co najmniej dziesięć osób"
    assert said(PL, PL.position(2, more_than=True)) == "Masz przed sobą co najmniej dwie osoby"
    assert said(PL, PL.position(1, more_than=True)) == "Masz przed sobą co najmniej jedną osobę"
    assert said(PL, PL.wait(120)) == "Przewidywany czas oczekiwania to mniej więcej dwie minuty"
    assert said(PL, PL.wait(300)) == "Przewidywany czas oczekiwania to mniej więcej pięć minut"
    assert said(PL, PL.wait(60)) == "Przewidywany czas oczekiwania to mniej więcej jedna minuta"
    assert said(PL, PL.wait(30)) == "Przewidywany czas oczekiwania to mniej niż minuta."
    assert said(PL, PL.wait(3600)) == "Przewidywany czas oczekiwania to ponad dwadzieścia minut"
    assert said(PL, PL.wait(3600, max_minutes=1)) == "Przewidywany czas oczekiwania to ponad jedną minutę"
    assert said(PL, PL.exact_duration(150)) == "dwie minuty i trzydzieści sekund"
    assert said(PL, PL.exact_duration(61)) == "jedna minuta i jedna sekunda"


@pytest.mark.parametrize(
    ("hour", "minute", "text"),
    [(14, 30, "czternasta trzydzieści"), (8, 5, "ósma pięć"), (12, 0, "dwunasta"), (1, 0, "pierwsza"),
     (21, 15, "dwudziesta pierwsza piętnaście"), (0, 45, "zero czterdzieści pięć")],
)
def test_polish_times(hour: int, minute: int, text: str) -> None:
    assert said(PL, PL.time(hour, minute)) == text


def test_polish_dates() -> None:
    assert said(PL, PL.date(12, 2)) == "drugiego grudnia"
    assert said(PL, PL.date(1, 31)) == "trzydziestego pierwszego stycznia"
    assert said(PL, PL.date(5, 3)) == "trzeciego maja"


# --- Latvian --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "nulle"), (1, "viens"), (3, "trīs"), (10, "desmit"), (11, "vienpadsmit"), (21, "divdesmit viens"),
        (100, "simts"), (101, "simt viens"), (345, "trīssimt četrdesmit pieci"), (1000, "tūkstotis"),
        (1001, "tūkstoš viens"), (2000, "divi tūkstoši"), (21_000, "divdesmit viens tūkstotis"),
        (22_000, "divdesmit divi tūkstoši"), (2100, "divi tūkstoši simts"),
    ],
)
def test_latvian_cardinals(n: int, text: str) -> None:
    assert said(LV, LV.number(n)) == text


@pytest.mark.parametrize(
    ("n", "minutes"),
    [
        (0, "nulle minūtes"), (1, "viena minūte"), (2, "divas minūtes"), (3, "trīs minūtes"), (4, "četras minūtes"),
        (5, "piecas minūtes"), (10, "desmit minūtes"), (11, "vienpadsmit minūtes"), (21, "divdesmit viena minūte"),
        (22, "divdesmit divas minūtes"), (100, "simt minūtes"), (101, "simt viena minūte"),
        (111, "simt vienpadsmit minūtes"), (1000, "tūkstoš minūtes"),
    ],
)
def test_latvian_counted_minutes(n: int, minutes: str) -> None:
    assert said(LV, LV.count(n, "minute")) == minutes


@pytest.mark.parametrize(
    ("n", "text"),
    [(1, "pirmais"), (2, "otrais"), (3, "trešais"), (10, "desmitais"), (12, "divpadsmitais"), (20, "divdesmitais"),
     (21, "divdesmit pirmais"), (100, "simtais"), (101, "simt pirmais"), (120, "simt divdesmitais"),
     (300, "trīssimtais"), (1000, "tūkstošais")],
)
def test_latvian_ordinals(n: int, text: str) -> None:
    assert said(LV, LV.ordinal(n)) == text


def test_latvian_announcements_times_and_dates() -> None:
    assert said(LV, LV.position(3)) == "Jūsu zvans ir trešais rindā."
    assert said(LV, LV.position(10, more_than=True)) == "Pirms jums rindā ir vismaz desmit zvani"
    assert said(LV, LV.position(21, more_than=True)) == "Pirms jums rindā ir vismaz divdesmit viens zvans"
    assert said(LV, LV.wait(240)) == "Paredzamais gaidīšanas laiks ir aptuveni četras minūtes"
    assert said(LV, LV.wait(3600)) == "Paredzamais gaidīšanas laiks ir vairāk nekā divdesmit minūtes"
    assert said(LV, LV.exact_duration(90)) == "viena minūte un trīsdesmit sekundes"
    assert said(LV, LV.time(14, 30)) == "pulksten četrpadsmit trīsdesmit"
    assert said(LV, LV.time(8, 5)) == "pulksten astoņi nulle pieci"
    assert said(LV, LV.date(12, 2)) == "otrais decembris"
    assert said(LV, LV.date(6, 21)) == "divdesmit pirmais jūnijs"


# --- Romanian -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "zero"), (1, "unu"), (2, "doi"), (12, "doisprezece"), (21, "douăzeci și unu"), (100, "o sută"),
        (101, "o sută unu"), (200, "două sute"), (345, "trei sute patruzeci și cinci"), (1000, "o mie"),
        (2000, "două mii"), (12_000, "douăsprezece mii"), (20_000, "douăzeci de mii"),
        (21_000, "douăzeci și una de mii"), (22_000, "douăzeci și două de mii"),
    ],
)
def test_romanian_cardinals(n: int, text: str) -> None:
    assert said(RO, RO.cardinal(n, "counting")) == text


@pytest.mark.parametrize(
    ("n", "minutes", "seconds"),
    [
        (0, "zero minute", "zero secunde"), (1, "un minut", "o secundă"), (2, "două minute", "două secunde"),
        (12, "douăsprezece minute", "douăsprezece secunde"), (19, "nouăsprezece minute", None),
        (20, "douăzeci de minute", "douăzeci de secunde"),
        (21, "douăzeci și unu de minute", "douăzeci și una de secunde"),
        (22, "douăzeci și două de minute", "douăzeci și două de secunde"), (100, "o sută de minute", None),
        (101, "o sută unu minute", "o sută una secunde"), (120, "o sută douăzeci de minute", None),
        (1000, "o mie de minute", None),
    ],
)
def test_romanian_counted_minutes_and_seconds(n: int, minutes: str, seconds: str | None) -> None:
    assert said(RO, RO.count(n, "minute")) == minutes
    if seconds is not None:
        assert said(RO, RO.count(n, "second")) == seconds


@pytest.mark.parametrize(
    ("n", "text"),
    [(1, "primul"), (2, "al doilea"), (3, "al treilea"), (11, "al unsprezecelea"), (12, "al doisprezecelea"),
     (20, "al douăzecilea"), (21, "al douăzeci și unulea"), (22, "al douăzeci și doilea"), (100, "al o sutălea"),
     (101, "al o sută unulea"), (200, "al două sutelea"), (1000, "al o miilea")],
)
def test_romanian_ordinals(n: int, text: str) -> None:
    assert said(RO, RO.ordinal(n)) == text


def test_romanian_announcements_times_and_dates() -> None:
    assert said(RO, RO.position(3)) == "Apelul dumneavoastră este al treilea la rând."
    assert said(RO, RO.position(1)) == "Apelul dumneavoastră este primul la rând."
    assert said(RO, RO.position(10, more_than=True)) == "Aveți în fața dumneavoastră cel puțin zece apelanți"
    assert said(RO, RO.position(20, more_than=True)) == "Aveți în fața dumneavoastră cel puțin douăzeci de apelanți"
    assert said(RO, RO.wait(60)) == "Timpul estimat de așteptare este aproximativ un minut"
    assert said(RO, RO.wait(240)) == "Timpul estimat de așteptare este aproximativ patru minute"
    assert said(RO, RO.wait(3600)) == "Timpul estimat de așteptare este mai mult de douăzeci de minute"
    assert said(RO, RO.exact_duration(150)) == "două minute și treizeci de secunde"
    assert said(RO, RO.time(14, 30)) == "ora paisprezece și treizeci"
    assert said(RO, RO.time(2, 0)) == "ora două"
    assert said(RO, RO.time(1, 5)) == "ora unu și cinci"
    assert said(RO, RO.time(21, 0)) == "ora douăzeci și unu"
    assert said(RO, RO.date(12, 1)) == "întâi decembrie"
    assert said(RO, RO.date(12, 2)) == "doi decembrie"
    assert said(RO, RO.date(5, 21)) == "douăzeci și unu mai"


# --- Croatian -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "nula"), (1, "jedan"), (2, "dva"), (21, "dvadeset jedan"), (100, "sto"), (200, "dvjesto"),
        (345, "tristo četrdeset pet"), (1000, "tisuću"), (1001, "tisuću jedan"), (2000, "dvije tisuće"),
        (5000, "pet tisuća"), (21_000, "dvadeset jedna tisuća"), (22_000, "dvadeset dvije tisuće"),
    ],
)
def test_croatian_cardinals(n: int, text: str) -> None:
    assert said(HR, HR.number(n)) == text


@pytest.mark.parametrize(
    ("n", "minutes", "seconds"),
    [
        (0, "nula minuta", "nula sekundi"), (1, "jedna minuta", "jedna sekunda"), (2, "dvije minute", "dvije sekunde"),
        (4, "četiri minute", "četiri sekunde"), (5, "pet minuta", "pet sekundi"), (11, "jedanaest minuta", None),
        (12, "dvanaest minuta", "dvanaest sekundi"), (21, "dvadeset jedna minuta", "dvadeset jedna sekunda"),
        (22, "dvadeset dvije minute", "dvadeset dvije sekunde"), (25, "dvadeset pet minuta", None),
        (101, "sto jedna minuta", None), (111, "sto jedanaest minuta", None), (1000, "tisuću minuta", None),
    ],
)
def test_croatian_counted_minutes_and_seconds(n: int, minutes: str, seconds: str | None) -> None:
    assert said(HR, HR.count(n, "minute")) == minutes
    if seconds is not None:
        assert said(HR, HR.count(n, "second")) == seconds


@pytest.mark.parametrize(
    ("n", "text"),
    [(1, "prvi"), (2, "drugi"), (3, "treći"), (4, "četvrti"), (12, "dvanaesti"), (20, "dvadeseti"),
     (21, "dvadeset prvi"), (100, "stoti"), (122, "sto dvadeset drugi"), (500, "petstoti"), (1000, "tisućiti")],
)
def test_croatian_ordinals(n: int, text: str) -> None:
    assert said(HR, HR.ordinal(n)) == text


def test_croatian_announcements_times_and_dates() -> None:
    assert said(HR, HR.position(3)) == "Vaš poziv je treći u redu čekanja."
    assert said(HR, HR.position(10, more_than=True)) == "Ispred vas u redu ima najmanje deset poziva"
    assert said(HR, HR.position(21, more_than=True)) == "Ispred vas u redu ima najmanje dvadeset jedan poziv"
    assert said(HR, HR.wait(120)) == "Očekivano vrijeme čekanja je otprilike dvije minute"
    assert said(HR, HR.wait(300)) == "Očekivano vrijeme čekanja je otprilike pet minuta"
    assert said(HR, HR.wait(3600)) == "Očekivano vrijeme čekanja je više od dvadeset minuta"
    assert said(HR, HR.wait(3600, max_minutes=2)) == "Očekivano vrijeme čekanja je više od dviju minuta"
    assert said(HR, HR.wait(3600, max_minutes=1)) == "Očekivano vrijeme čekanja je više od jedne minute"
    assert said(HR, HR.exact_duration(150)) == "dvije minute i trideset sekundi"
    assert said(HR, HR.time(14, 30)) == "četrnaest i trideset"
    assert said(HR, HR.time(14, 0)) == "četrnaest sati"
    assert said(HR, HR.time(2, 0)) == "dva sata"
    assert said(HR, HR.time(21, 0)) == "dvadeset jedan sat"
    assert said(HR, HR.date(12, 2)) == "drugi prosinca"


# --- every sayer ----------------------------------------------------------------------------------------------------

def test_each_language_has_its_word_sayer() -> None:
    assert {code: sayer_for(code).code for code in ("pl", "lv", "ro", "hr", "pl-PL")} == {
        "pl": "pl", "lv": "lv", "ro": "ro", "hr": "hr", "pl-PL": "pl"}


def test_a_position_beyond_the_ordinals_is_said_truthfully() -> None:
    assert said(PL, PL.position(5000)) == "Masz przed sobą co najmniej tysiąc osób"


def test_unknown_ordinal_forms_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match="ordinals have the forms"):
        HR.ordinal(3, "f-ins")
    with pytest.raises(ValueError, match="not a time of day"):
        PL.time(24, 0)
    with pytest.raises(ValueError, match="not a date"):
        LV.date(2, 30)


@given(st.integers(min_value=0, max_value=2 * MAX_WORDS), st.sampled_from(sorted(SAYERS)))
def test_every_output_has_a_text_in_its_language(n: int, code: str) -> None:
    sayer = SAYERS[code]
    outputs = [sayer.number(n), sayer.number(n, feminine=True), sayer.count(n, "minute"), sayer.count(n, "second"),
               sayer.exact_duration(n), sayer.position(n + 1), sayer.position(n + 1, more_than=True),
               sayer.wait(float(n), max_minutes=1 + n % 30), sayer.time(n % 24, n % 60),
               sayer.date(1 + n % 12, 1 + n % 28)]
    outputs += [sayer.ordinal(n + 1, form) for form in sayer.ordinal_forms]
    for fragments in outputs:
        assert fragments and set(fragments) <= sayer.fragments
        assert all(code in _TEXTS[name] for name in fragments)
