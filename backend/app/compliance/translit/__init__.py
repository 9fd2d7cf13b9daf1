"""Names in other scripts, written in Latin letters the ways the sanctions lists write them.

`script_of(name)` tells which script a name is written in; `positions(name)` gives, for each
word (or syllable) of the name, the Latin spellings it may stand for, most usual first;
`transliterations(name)` puts those together into a few readable Latin names for an officer
("김정은" → "Kim Jeong Eun", "Gim Jong Un", …). Arabic and Persian (`arabic.py`), Hangul
(`hangul.py`) and Han (`han.py`) have rules of their own; Cyrillic and every other script go
through anyascii, one spelling per word. Pure functions, no database.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

from anyascii import anyascii

from app.compliance.translit import arabic, han, hangul

SCRIPTS = ("latin", "cyrillic", "arabic", "persian", "hangul", "han", "other")
_SEPARATORS = re.compile(r"[\s\u00b7\u30fb\u2027]+")  # spaces and the middle dots of names
MAX_READABLE = 4


def _script_of_char(char: str) -> str | None:
    if not char.isalpha():
        return None
    if hangul.is_hangul(char):
        return "hangul"
    if han.is_han(char):
        return "han"
    if arabic.is_arabic(char):
        return "arabic"
    name = unicodedata.name(char, "")
    if name.startswith("LATIN"):
        return "latin"
    if name.startswith("CYRILLIC"):
        return "cyrillic"
    return "other"


def script_of(name: str) -> str:
    """The script most of the name's letters are in: one of `SCRIPTS` (Persian told apart)."""
    counts = Counter(s for s in map(_script_of_char, name) if s)
    if not counts:
        return "latin"
    script = counts.most_common(1)[0][0]
    if script == "arabic" and arabic.is_persian(name):
        return "persian"
    return script


def needs_rules(name: str) -> bool:
    """Whether the name has letters that anyascii alone would spell poorly."""
    return any(hangul.is_hangul(c) or han.is_han(c) or arabic.is_arabic(c) for c in name)


def positions(name: str) -> list[tuple[str, ...]]:
    """Per word or syllable of the name, its Latin spellings (lower case), most usual first."""
    persian = arabic.is_persian(name)
    out: list[tuple[str, ...]] = []
    first_hangul = first_han = True
    for word in _SEPARATORS.split(name.strip()):
        if not word:
            continue
        if any(hangul.is_hangul(c) for c in word):
            out.extend(hangul.word_alternatives(word, first=first_hangul))
            first_hangul = False
        elif any(han.is_han(c) for c in word):
            out.extend(han.word_alternatives(word, first=first_han))
            first_han = False
        elif any(arabic.is_arabic(c) for c in word):
            forms = arabic.word_forms(word, persian=persian)
            if forms:
                out.append(forms)
        else:
            out.append((anyascii(word).lower(),))
    return out


def transliterations(name: str) -> list[str]:
    """A few readable Latin forms of a name in another script, the most usual first.

    Empty for a name already in Latin letters. For the officer: shown beside the name as
    written, `{query, script, transliterated_as}`.
    """
    if script_of(name) == "latin":
        return []
    found = positions(name)
    if not found:
        return []
    widest = min(MAX_READABLE, max(len(p) for p in found))
    readable = (" ".join(p[min(k, len(p) - 1)].title() for p in found) for k in range(widest))
    return list(dict.fromkeys(readable))
