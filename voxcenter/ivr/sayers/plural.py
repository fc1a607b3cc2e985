"""CLDR plural categories, from Babel's copy of the Unicode CLDR data.

A noun after a number takes the form the language's plural rule picks for that number: Polish "1 minuta",
"2 minuty", "5 minut", "22 minuty"; Croatian "21 minuta"; Romanian "20 de minute". The rules are CLDR's
(``one``, ``few``, ``many``, ``zero``, ``other``), not tables of our own.
"""

from __future__ import annotations

from functools import cache

from babel import Locale
from babel.plural import PluralRule


@cache
def _rule(language: str) -> PluralRule:
    return Locale.parse(language).plural_form


def plural_category(language: str, n: int) -> str:
    """The CLDR plural category of the integer ``n`` in ``language`` (``pl``: 2 -> ``few``, 5 -> ``many``)."""
    return str(_rule(language)(n))
