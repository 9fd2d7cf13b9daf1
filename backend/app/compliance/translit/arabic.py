"""Arabic and Persian: the vowelled Latin forms a consonantal spelling stands for.

Arabic script writes long vowels (ا و ي) and leaves short ones out: محمد is m-h-m-d, and the
lists write it Muhammad, Mohammed, Mohammad. A word is spelled, in this order:

1. from the table of name words (`arabic_names.NAMES`), Arabic or Persian spellings by the
   script the name uses (حسين Hussein, Persian حسین Hossein);
2. as a known word with a particle or suffix: ال (al-, el-: kept as a glued alternative, since
   the matcher drops "al"), عبد + name (Abdul-, Abdel-), Persian ی (Hosseini), زاده (-zadeh),
   پور (-pour), نژاد (-nejad), خانی (-khani), or two known words written together
   (محمدرضا Mohammadreza);
3. by rule: consonants by the usual transliteration (ث th, خ kh, ذ dh, ش sh, غ gh, ق q; in
   Persian ث s, ذ z, ض z, ق gh, و v, and پ p, چ ch, ژ zh, گ g), و and ي as vowels between
   consonants and as w/v and y elsewhere, and a short vowel (a; in Persian also e) put
   between two consonants that have none, one syllable in two, as Arabic's syllables go.
"""

from __future__ import annotations

import re
from itertools import product

from app.compliance.translit.arabic_names import NAMES

PERSIAN_LETTERS = frozenset("پچژگکی")
_MARKS = re.compile("[\u064b-\u065f\u0670\u0640]")  # short vowels, shadda, sukun, tatweel
_CANONICAL = str.maketrans({"ی": "ي", "ى": "ي", "ک": "ك", "أ": "ا", "إ": "ا", "آ": "ا",
                            "ٱ": "ا", "ة": "ه", "ۀ": "ه", "ؤ": "و", "ئ": "ي"})  # fmt: skip
PARTICLES = {"بن": "bin", "ابن": "ibn", "بنت": "bint", "ابو": "abu", "ام": "umm", "عبد": "abd",
             "ال": "al"}  # fmt: skip
_SUFFIXES = (
    ("زاده", ("zadeh", "zade")), ("پور", ("pour", "pur")), ("نژاد", ("nejad", "nezhad")),
    ("خاني", ("khani",)), ("نيا", ("nia",)), ("فر", ("far",)), ("راد", ("rad",)),
)  # fmt: skip
_CONSONANTS = {
    "ب": "b", "ت": "t", "ث": "th", "ج": "j", "ح": "h", "خ": "kh", "د": "d", "ذ": "dh", "ر": "r",
    "ز": "z", "س": "s", "ش": "sh", "ص": "s", "ض": "d", "ط": "t", "ظ": "z", "ع": "", "غ": "gh",
    "ف": "f", "ق": "q", "ك": "k", "ل": "l", "م": "m", "ن": "n", "ه": "h", "ء": "", "پ": "p",
    "چ": "ch", "ژ": "zh", "گ": "g", "ک": "k",
}  # fmt: skip
_PERSIAN_CONSONANTS = {**_CONSONANTS, "ث": "s", "ذ": "z", "ض": "z", "ظ": "z", "ق": "gh"}
_AFFIXES = {suffix.translate(_CANONICAL): endings for suffix, endings in _SUFFIXES}
_VOWEL_LETTERS = frozenset("اوي")
MAX_FORMS = 6


def is_arabic(char: str) -> bool:
    code = ord(char)
    return 0x0600 <= code <= 0x06FF or 0x0750 <= code <= 0x077F or 0xFB50 <= code <= 0xFDFF


def is_persian(text: str) -> bool:
    return any(c in PERSIAN_LETTERS for c in text)


def normalize(word: str) -> str:
    """The spelling the table is keyed by: no marks, one form of each letter."""
    return _MARKS.sub("", word).translate(_CANONICAL)


def _known(word: str, persian: bool) -> tuple[str, ...]:
    forms = NAMES.get(word)
    return forms[persian] if forms else _AFFIXES.get(word, ())


def _composed(word: str, persian: bool) -> tuple[str, ...]:
    """A known word with a particle or suffix, or two known words written together."""
    if word.startswith("ال") and len(word) > 3:
        after = _spell(word[2:], persian)
        return after + tuple(f"{p}-{r}" for p in ("al", "el") for r in after[:2])
    if word.startswith("عبد") and len(word) > 4:
        tail = _spell(word[5:] if word[3:5] == "ال" else word[3:], persian)
        return tuple(f"{p}{t}" for t in tail[:2] for p in ("abdul-", "abdel-", "abd al-")) + tail
    if word.endswith("الدين") and len(word) > 6:  # سعدالدين Saad al-Din, Saadeddine
        head = _spell(word[:-5], persian)[:2]
        return _glued(head, ("eddin", "eddine", "uddin", "aldin", " al-din"))
    if word.startswith("پور") and len(word) > 4:
        return _glued(("pour", "pur"), _spell(word[3:], persian))
    if word.endswith("يي") and _known(word[:-2], persian):
        return tuple(f + e for f in _known(word[:-2], persian) for e in ("ei", "i"))  # Rezaei
    if word.endswith("ي") and _known(word[:-1], persian):
        return tuple(f + "i" for f in _known(word[:-1], persian))  # حسینی Hosseini
    for suffix, endings in _SUFFIXES:
        stem = word[: -len(suffix)]
        if word.endswith(normalize(suffix)) and len(stem) >= 2:
            return _glued(_spell(stem, persian), endings)
    for cut in range(2, len(word) - 1):
        head, tail = _known(word[:cut], persian), _known(word[cut:], persian)
        if head and tail:
            return _glued(head, tail)
    for cut in range(len(word) - 3, 2, -1):  # a known name, then one spelled by rule
        head = _known(word[:cut], persian)
        if head:
            return _glued(head, _by_rule(word[cut:], persian))
    return ()


def _glued(heads: tuple[str, ...], tails: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(h + t for t, h in product(tails[:MAX_FORMS], heads[:3]))[:MAX_FORMS]


def _spell(word: str, persian: bool) -> tuple[str, ...]:
    return _known(word, persian) or _composed(word, persian) or _by_rule(word, persian)


def known_name(word: str) -> str | None:
    """The name the table knows the word as: as it stands, after عبد or ال, before ی."""
    key = normalize(word.replace("\u200c", ""))
    for prefix in ("عبدال", "عبد", "ال", ""):
        rest = key[len(prefix) :] if key.startswith(prefix) else ""
        for stem in (rest, rest[:-1] if rest.endswith("ي") else ""):
            if stem in NAMES:
                return stem
    return None


def word_forms(word: str, *, persian: bool) -> tuple[str, ...]:
    """The Latin forms of one word in Arabic script, the most usual first."""
    parts = [normalize(p) for p in word.split("\u200c") if p]  # Persian half-space: one word
    if not parts:
        return ()
    if len(parts) > 1 and _known("".join(parts), persian):
        parts = ["".join(parts)]
    if len(parts) == 1:
        if parts[0] in PARTICLES:
            return (PARTICLES[parts[0]],)
        return tuple(dict.fromkeys(_spell(parts[0], persian)))[:MAX_FORMS]
    forms = [_spell(p, persian)[:2] for p in parts]
    return tuple(dict.fromkeys("".join(f) for f in product(*forms)))[:MAX_FORMS]


def _letters(word: str, persian: bool, *, medial_v: bool) -> list[tuple[str, bool]]:
    """(Latin, is a vowel) per letter; و and ي are consonants next to a vowel or at the start.

    A و between consonants is a vowel (Mahmoud) or, with `medial_v`, a consonant (Tavakoli).
    """
    table = _PERSIAN_CONSONANTS if persian else _CONSONANTS
    out: list[tuple[str, bool]] = []
    for i, char in enumerate(word):
        after = word[i + 1] if i + 1 < len(word) else ""
        after_vowel = bool(out) and out[-1][1]
        if char == "ا":
            out.append(("a", True))
        elif char == "و":
            consonant = i == 0 or after in _VOWEL_LETTERS or after_vowel or (medial_v and after)
            out.append(_W[persian] if consonant else _U[persian])
        elif char == "ي":
            consonant = i == 0 or after in _VOWEL_LETTERS or after_vowel
            out.append(("y", False) if consonant else ("i", True))
        elif char == "ه" and not after and i > 1:
            out.append(("eh" if persian else "a", True))
        elif char == "ع" and i == 0:
            out.append(("a" if after not in _VOWEL_LETTERS else "", True))
        elif char in table:
            out.append((table[char], False))
    return out


_W = {False: ("w", False), True: ("v", False)}
_U = {False: ("u", True), True: ("ou", True)}


def _voweled(letters: list[tuple[str, bool]], vowel: str, every: bool) -> str:
    """The letters with `vowel` between consonants: in every gap, or in every other one."""
    text, inserted_last = "", False
    for i, (latin, is_vowel) in enumerate(letters):
        text += latin
        following = letters[i + 1] if i + 1 < len(letters) else None
        gap = not is_vowel and following is not None and not following[1]
        if gap and (every or not inserted_last):
            text += vowel
            inserted_last = True
        elif not is_vowel:
            inserted_last = False
    return text


def _by_rule(word: str, persian: bool) -> tuple[str, ...]:
    """Spellings by rule: و read both ways, a short vowel in every other gap or in each."""
    forms = []
    for medial_v in (False, True):
        letters = _letters(word, persian, medial_v=medial_v)
        for every in (False, True):
            for vowel in ("a", "e") if persian else ("a", "u"):
                forms.append(_voweled(letters, vowel, every))
    if persian and word[:1] == "ا" and word[1:2] not in _VOWEL_LETTERS:
        forms += ["e" + f[1:] for f in forms[:2] if f.startswith("a")]  # Eslami, Esmail
    if persian and "ق" in word:  # Persian ق: gh (Ghasem) or, as many lists write it, q
        forms += [f.replace("gh", "q", 1) for f in forms[:2]]
    return tuple(dict.fromkeys(f for f in forms if f))[: MAX_FORMS + 2]
