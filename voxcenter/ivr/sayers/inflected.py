"""The common part of the sayers whose numbers agree with their noun: Polish, Latvian, Romanian, Croatian.

A counted noun ("minuta", "minuty", "minut") is picked by the CLDR plural category of the number; the number
itself agrees in gender (and, where the sentence needs it, case) with the noun. Each language gives its tables:
which fragment says each noun in each case and category, and the gender of each noun.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping

from voxcenter.ivr.sayers.base import DIGIT_FRAGMENTS, MAX_WORDS, Sayer, _check_number, _check_unit

ORDINAL_BASES: tuple[int, ...] = (*range(1, 20), *range(20, 100, 10), *range(100, 1000, 100), 1000)
"""Numbers whose ordinal is one word in every inflecting language (compounds are built from these)."""

SENTENCE_FRAGMENTS: tuple[str, ...] = (
    "position-before", "position-after", "at-least", "expected-wait", "about", "less-than-a-minute", "more-than",
    "and",
)
"""Sentence pieces of the queue announcements and durations, in every inflecting language."""


class InflectingSayer(Sayer, ABC):
    """A sayer whose numbers agree in gender and case with the noun they count.

    Subclasses define :meth:`cardinal`, :meth:`_ordinal_words`, :attr:`nouns`, :attr:`genders` and the
    fragment set; sentences are: ``position-before`` + ordinal + ``position-after`` ("Jesteś trzecią osobą w
    kolejce"), ``at-least`` + counted callers, ``expected-wait`` + ``about`` + counted minutes.
    """

    max_ordinal = 1000
    """Ordinals are said up to the thousandth (queue positions and dates need far less)."""
    nouns: Mapping[tuple[str, str], Mapping[str, str]] = {}
    """(noun, case) -> plural category -> fragment; nouns: ``minute``, ``second``, ``caller`` (and ``hour``)."""
    genders: Mapping[str, str] = {}
    """noun -> ``m``, ``f`` or ``n``: the form of the number counting it."""
    caller_noun_case = "nom"
    """Case of the counted callers after ``at-least``."""
    position_form = "m-nom"
    """Ordinal form of the queue position (``f-ins`` in Polish: "trzecią osobą")."""

    def number(self, n: int, *, feminine: bool = False) -> list[str]:
        _check_number(n)
        if n > MAX_WORDS:
            return self.digits(str(n))
        return self.cardinal(n, "f" if feminine else "m")

    @abstractmethod
    def cardinal(self, n: int, gender: str, case: str = "nom") -> list[str]:
        """``n`` (0..999 999) agreeing with a noun of ``gender`` in ``case``."""

    def noun(self, noun: str, n: int, case: str = "nom") -> str:
        """The fragment of ``noun`` after the number ``n``, in ``case``."""
        forms = self.nouns.get((noun, case))
        if forms is None:
            raise ValueError(f"{self.code} sayer: no {case} forms of {noun!r}")
        return forms[self.category(n)]

    def count(self, n: int, unit: str, case: str = "nom") -> list[str]:
        _check_unit(unit)
        return self.counted(n, unit, case)

    def counted(self, n: int, noun: str, case: str = "nom") -> list[str]:
        """``n`` followed by ``noun``, both in the forms the number asks for ("dwie minuty", "pięć minut")."""
        _check_number(n)
        if n > MAX_WORDS:
            return [*self.digits(str(n)), self.noun(noun, n, case)]
        return [*self.cardinal(n, self.genders[noun], case), self.noun(noun, n, case)]

    def _position(self, position: int) -> list[str]:
        if position > self.max_ordinal:
            return self._callers_ahead(self.max_ordinal)  # true, and grammatical; no queue is that long
        return ["position-before", *self.ordinal(position, self.position_form), "position-after"]

    def _callers_ahead(self, at_least: int) -> list[str]:
        return ["at-least", *self.counted(at_least, "caller", self.caller_noun_case)]


def fragment_set(*groups: Iterable[str], nouns: Mapping[tuple[str, str], Mapping[str, str]]) -> frozenset[str]:
    """The fragments of an inflecting sayer: its groups, the nouns' forms, digits, keys and sentences."""
    out = {*DIGIT_FRAGMENTS, *SENTENCE_FRAGMENTS, *(f"month-{m}" for m in range(1, 13))}
    for group in groups:
        out.update(group)
    for forms in nouns.values():
        out.update(forms.values())
    return frozenset(out)
