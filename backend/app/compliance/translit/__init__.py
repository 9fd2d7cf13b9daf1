"""Names in other scripts, written in Latin letters the ways the sanctions lists write them.

`script_of(name)` tells which script a name is written in; `positions(name)` gives, for each
word (or syllable) of the name, the Latin spellings it may stand for, most usual first;
`transliterations(name)` puts those together into a few readable Latin names for an officer
("김정은" → "Kim Jeong Eun", "Kim Jong Un", …). Arabic and Persian (`arabic.py`), Hangul
(`hangul.py`) and Han (`han.py`) have rules of their own; Cyrillic and every other script go
through anyascii, one spelling per word. Pure functions, no database.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

from anyascii import anyascii

from app.compliance.translit import arabic, cyrillic, han, hangul
from app.compliance.translit.arabic_names import SPELLED

SCRIPTS = ("latin", "cyrillic", "arabic", "persian", "hangul", "han", "other")
_SEPARATORS = re.compile(r"[\s\u00b7\u30fb\u2027]+")  # spaces and the middle dots of names
MAX_READABLE = 4


class Spellings(tuple[str, ...]):
    """The Latin spellings of one word or syllable, most usual first.

    `scripted`: the word was written in another script (its spellings are guesses).
    `strict`: a syllable (Hangul) or a Chinese name part, whose spellings are all there is:
    a spelling one letter off is another syllable, not a typo. `names`: the name the table of
    Arabic and Persian names knows the word as, so that a listed spelling of another known
    name ("Hasan" for a query's حسين) is not taken for a variant of it.
    """

    strict: bool
    names: frozenset[str]
    scripted: bool

    def __new__(
        cls,
        forms: tuple[str, ...],
        *,
        strict: bool = False,
        names: frozenset[str] = frozenset(),
        scripted: bool = False,
    ) -> Spellings:
        self = super().__new__(cls, forms)
        self.strict = strict
        self.names = names
        self.scripted = scripted or strict or bool(names) or len(forms) > 1
        return self

    @property
    def plain(self) -> bool:
        """One spelling of a word written in Latin letters: nothing to choose."""
        return not self.scripted


def names_spelled(token: str) -> frozenset[str]:
    """The Arabic and Persian names (table keys) that `token` is a known spelling of.

    A particle in front ("abdulrahman") or the ending -i of a surname ("jalili") set aside.
    """
    for prefix in ("abdul", "abdel", "abd", "al", "el", ""):
        rest = token[len(prefix) :] if token.startswith(prefix) else ""
        for stem in (rest, rest[:-1] if rest.endswith("i") and len(rest) > 4 else ""):
            if stem in SPELLED:
                return SPELLED[stem]
    return frozenset()


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
    """Whether the name has letters that anyascii alone would spell poorly, or in one way only."""
    if name.isascii():
        return False
    return any(
        hangul.is_hangul(c) or han.is_han(c) or arabic.is_arabic(c) or cyrillic.is_cyrillic(c)
        for c in name
    )


def _words(name: str) -> list[str]:
    """The words of a name, عبد joined to the word after it and الدين to the word before."""
    words = [w for w in _SEPARATORS.split(name.strip()) if w]
    joined: list[str] = []
    for word in words:
        if joined and (arabic.normalize(joined[-1]) == "عبد" or arabic.normalize(word) == "الدين"):
            joined[-1] += word
        else:
            joined.append(word)
    return joined


def positions(name: str) -> list[Spellings]:
    """Per word or syllable of the name, its Latin spellings (lower case), most usual first."""
    persian = arabic.is_persian(name)
    out: list[Spellings] = []
    first_hangul = first_han = True
    for word in _words(name):
        if any(hangul.is_hangul(c) for c in word):
            found = hangul.word_alternatives(word, first=first_hangul)
            out.extend(Spellings(f, strict=True) for f in found)
            first_hangul = False
        elif any(han.is_han(c) for c in word):
            out.extend(
                Spellings(f, strict=True) for f in han.word_alternatives(word, first=first_han)
            )
            first_han = False
        elif any(arabic.is_arabic(c) for c in word):
            forms = arabic.word_forms(word, persian=persian)
            key = arabic.known_name(word)
            if forms:
                out.append(Spellings(forms, names=frozenset({key}) if key else frozenset()))
        elif any(cyrillic.is_cyrillic(c) for c in word):
            out.append(Spellings(cyrillic.word_forms(word), scripted=True))
        else:
            out.append(Spellings((anyascii(word).lower(),)))
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
    # The first word (a surname in Korean and Chinese) keeps its most usual spelling.
    readable = (
        " ".join(p[min(k, len(p) - 1) if i else 0].title() for i, p in enumerate(found))
        for k in range(widest)
    )
    return list(dict.fromkeys(readable))
