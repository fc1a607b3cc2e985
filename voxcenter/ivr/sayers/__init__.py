"""Sayers: numbers, ordinals, durations, times, dates and queue announcements as lists of prompt fragments.

English, French, Polish, Latvian, Romanian and Croatian say numbers 0-999 999 in words; any other language
falls back to :class:`DigitSayer`, which reads numbers digit by digit with ``num-0``..``num-9``: a caller
hears "three five" rather than silence. Numbers above 999 999 are read digit by digit in every language.
"""

from __future__ import annotations

from collections.abc import Mapping

from voxcenter.ivr.sayers.base import DEFAULT_MAX_MINUTES, MAX_WORDS, DigitSayer, Sayer
from voxcenter.ivr.sayers.en import EnglishSayer
from voxcenter.ivr.sayers.fr import FrenchSayer
from voxcenter.ivr.sayers.hr import CroatianSayer
from voxcenter.ivr.sayers.inflected import InflectingSayer
from voxcenter.ivr.sayers.lv import LatvianSayer
from voxcenter.ivr.sayers.pl import PolishSayer
from voxcenter.ivr.sayers.plural import plural_category
from voxcenter.ivr.sayers.ro import RomanianSayer

SAYERS: dict[str, Sayer] = {
    sayer.code: sayer
    for sayer in (EnglishSayer(), FrenchSayer(), PolishSayer(), LatvianSayer(), RomanianSayer(), CroatianSayer())
}
"""Word sayers by code; any other language reads numbers digit by digit."""

ALL_FRAGMENTS: frozenset[str] = frozenset().union(Sayer.fragments, *(s.fragments for s in SAYERS.values()))
"""Every prompt name some sayer may return (each language needs only its own sayer's :attr:`Sayer.fragments`)."""


def sayer_for(language: str, overrides: Mapping[str, str] | None = None) -> Sayer:
    """The sayer of ``language``: ``overrides`` (the dial plan's ``prompts.sayer``) first, then the
    language code itself, then its primary subtag (``fr-CA`` -> ``fr``), else digit by digit."""
    code = (overrides or {}).get(language, language)
    for candidate in (code, code.split("-", 1)[0].lower()):
        if candidate in SAYERS:
            return SAYERS[candidate]
    return Sayer()


__all__ = [
    "ALL_FRAGMENTS",
    "DEFAULT_MAX_MINUTES",
    "MAX_WORDS",
    "SAYERS",
    "CroatianSayer",
    "DigitSayer",
    "EnglishSayer",
    "FrenchSayer",
    "InflectingSayer",
    "LatvianSayer",
    "PolishSayer",
    "RomanianSayer",
    "Sayer",
    "plural_category",
    "sayer_for",
]
