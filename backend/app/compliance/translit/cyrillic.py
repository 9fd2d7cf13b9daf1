"""Cyrillic: the spellings Russian, Ukrainian and Belarusian names take in the lists.

anyascii gives the usual Russian romanization (Дмитрий → Dmitriy). The lists also write
the endings short (Dmitry, Dmitri), ks as x (Alexander), ья as ia (Natalia), and Ukrainian
names by the Ukrainian national system, where Г is h and И is y (Гриценко → Hrytsenko).
"""

from __future__ import annotations

import re

from anyascii import anyascii

UKRAINIAN_LETTERS = frozenset("ЄєІіЇїҐґ")
_UKRAINIAN = str.maketrans(
    {"Г": "H", "г": "h", "И": "Y", "и": "y", "Й": "Y", "й": "i", "Ґ": "G", "ґ": "g",
     "Є": "Ye", "є": "ie", "Ї": "Yi", "ї": "i", "Х": "Kh", "х": "kh", "Щ": "Shch", "щ": "shch"}
)  # fmt: skip
_SHORT_ENDINGS = ((re.compile(r"iy$"), "y"), (re.compile(r"iy$"), "i"), (re.compile(r"yy$"), "y"))
_RUSSIAN_VARIANTS = (
    (re.compile(r"ks"), "x"),
    (re.compile(r"'y"), "i"),
    (re.compile(r"(?<=[aeiou])y(?![aeiou])"), "i"),  # Shoygu → Shoigu, Nikolay → Nikolai
)


def is_cyrillic(char: str) -> bool:
    return 0x0400 <= ord(char) <= 0x04FF


def word_forms(word: str) -> tuple[str, ...]:
    """The Latin forms of one Cyrillic word, the usual Russian romanization first."""
    russian = anyascii(word).lower()
    forms = [russian.replace("'", "")]
    for pattern, replacement in _SHORT_ENDINGS + _RUSSIAN_VARIANTS:
        variant = pattern.sub(replacement, russian).replace("'", "")
        forms.append(variant)
        if replacement == "x":
            forms.append(re.sub(r"r$", "er", variant))  # Aleksandr → Alexander
    forms.append(anyascii(word.translate(_UKRAINIAN)).lower().replace("'", ""))
    return tuple(dict.fromkeys(f for f in forms if f))
