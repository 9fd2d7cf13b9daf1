"""Name matching for sanctions screening: normalization and scoring.

Pure functions, no database: `name_index.py` indexes the listed names for blocking and scores
the candidates with `score_listed`; `sanctions.py` builds a `NameIndex` from the active list
and asks it for matches.

**Normalization** (`name_tokens`, `name_positions`): write a name in Latin letters (Arabic,
Persian, Hangul, Han and Cyrillic by their conventions, several spellings per word, see
`translit`; other scripts with anyascii), lower-case, drop punctuation, honorifics
("Dr", "Sheikh"), particles ("al", "bin", "van", "abdul") and legal forms ("LLC", "S.A."), so
that "Dr. José Ramírez-Ortega" and "ortega jose ramirez" give the same tokens.

**Token similarity** (`token_similarity`):

- 1.0 when equal; 0.95 when one is the other with a particle glued on ("benhaddou");
- Jaro-Winkler, at least 0.9, when they are one typo apart (Damerau-Levenshtein distance 1,
  tokens of four letters or more; 0.8 for three-letter tokens) or share a transliteration
  skeleton (sounds spelled alike folded, vowel runs and doubled letters folded:
  "Mohammed"/"Muhammad", "Tarkhanov"/"Tarchanov", "Yevgeniy"/"Evgenii") and are close as
  written (Jaro-Winkler ≥ 0.8, so "Omar"/"Amir" and "Hassan"/"Hussein" stay apart);
- otherwise min(Jaro-Winkler, Indel ratio) to the fourth power, so that two different names
  that merely start alike ("Petrov"/"Petrovsky") fall well below the line.

**Name score** (`score_listed`): tokens are aligned one to one, best pairs first (word order
does not matter; two tokens written as one, "Abdelrahim"/"Abdel Rahim", are joined). The
score is Σ sim·w over aligned pairs divided by Σ w over aligned pairs plus α·Σ w over tokens
of either name left without a partner. For people w = 1 and α = 0.35: a missing middle name
costs about 0.15, two missing names put the score under the line. For entities, generic
words ("trading", "shipping", "bank") weigh 0.3 and α = 1: a company that shares only the
generic part of a listed company's name does not match. When the list marks the surname
(the part before the comma, "KARELIN, Viktor", or the words in capitals of an alias), a
person matches only if a surname token matches (similarity ≥ 0.85): "Tariq Mahmood" is not
"CHAUDHRY, Tariq Mahmood". A single token against a longer name is capped at 0.75.

**Several spellings** (`score_positions`): a name in another script has several spellings per
word; against a listed name each word takes the one closest to it (`resolve`). A Hangul
syllable or Chinese name part matches only a spelling it has, and a listed spelling of another
known Arabic or Persian name is set aside (حسين is not "Hasan").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from anyascii import anyascii
from rapidfuzz import fuzz
from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler

from app.compliance import translit
from app.compliance.name_words import (
    GENERIC_WORDS,
    HONORIFICS,
    LEGAL_FORMS,
    PARTICLES,
    skeleton,
)
from app.compliance.translit import Spellings, script_of, transliterations

__all__ = [
    "GENERIC_WORDS",
    "HONORIFICS",
    "LEGAL_FORMS",
    "PARTICLES",
    "ListedName",
    "listed_variants",
    "name_positions",
    "name_tokens",
    "normalize",
    "score_listed",
    "score_names",
    "score_positions",
    "script_of",
    "skeleton",
    "transliterations",
]

# A name as positions: per word, the tokens it may be spelled as, most usual first.
Positions = tuple[Spellings, ...]


PERSON_ALPHA = 0.35
ENTITY_ALPHA = 1.0
GENERIC_WEIGHT = 0.3
SURNAME_MIN = 0.85
SINGLE_TOKEN_CAP = 0.75
# Spellings of a listed name in another script put in the index (the most usual ones).
LISTED_SPELLINGS = 3
# A shared skeleton only counts for tokens that are also close as written ("Omar"/"Amir" share
# one, as do "Hassan"/"Hussein": different names).
SKELETON_MIN_JW = 0.8

_NON_WORD = re.compile(r"[^a-z0-9 ]+")
_SPACES = re.compile(r"\s+")


def _syllabic(char: str) -> bool:
    code = ord(char)
    return 0x3040 <= code <= 0x30FF or 0x4E00 <= code <= 0x9FFF or 0xAC00 <= code <= 0xD7A3


def _transliterate(text: str) -> str:
    # Japanese kana (Chinese and Korean go through `translit` first): one syllable per token;
    # the scorer joins syllables again when the other name writes them together.
    if any(_syllabic(c) for c in text):
        return "".join(f" {anyascii(c)} " if _syllabic(c) else anyascii(c) for c in text)
    return anyascii(text)


_DOTTED = re.compile(r"\b((?:[a-z]\.){2,})")


def _words(text: str) -> list[str]:
    ascii_text = _transliterate(text).lower().replace("'", "").replace("`", "")
    ascii_text = _DOTTED.sub(lambda m: m.group(1).replace(".", ""), ascii_text)  # "s.a." → "sa"
    return _SPACES.sub(" ", _NON_WORD.sub(" ", ascii_text)).split()


def _keep(words: list[str]) -> list[str]:
    kept = [w for w in words if w not in HONORIFICS and w not in PARTICLES and w not in LEGAL_FORMS]
    return kept or words  # a name made only of particles stays what it is


_DROPPED = HONORIFICS | PARTICLES | LEGAL_FORMS


@lru_cache(maxsize=65536)
def _plain(word: str) -> Spellings:
    return Spellings((word,))


@lru_cache(maxsize=65536)
def name_positions(name: str) -> Positions:
    """Per word of the name, the normalized tokens it may stand for, most usual first.

    A name in Latin or Cyrillic letters has one token per position; one in Arabic, Persian,
    Hangul or Han script has the spellings `translit` gives (glued: "al-Qasimi" is one token,
    "alqasimi"). Honorifics, particles and legal forms are dropped as in `name_tokens`.
    """
    if not translit.needs_rules(name):
        return tuple(_plain(word) for word in _keep(_words(name)))
    found: list[Spellings] = []
    for spellings in translit.positions(name):
        if spellings.plain:
            found.extend(_plain(word) for word in _words(spellings[0]))
            continue
        if len(spellings) == 1 and not spellings.strict and not spellings.names:
            found.extend(Spellings((word,), scripted=True) for word in _words(spellings[0]))
            continue
        glued = tuple(t for t in dict.fromkeys("".join(_words(s)) for s in spellings) if t)
        if glued:
            found.append(
                Spellings(glued, strict=spellings.strict, names=spellings.names, scripted=True)
            )
    kept = [p for p in found if p.strict or p[0] not in _DROPPED]  # 빈 is Bin, not a particle
    return tuple(kept or found)


@lru_cache(maxsize=65536)
def name_tokens(name: str) -> tuple[str, ...]:
    """The normalized tokens of a name, honorifics, particles and legal forms removed, sorted.

    A name in another script gives its most usual spelling (`name_positions`).
    """
    return tuple(sorted(p[0] for p in name_positions(name)))


def normalize(name: str) -> str:
    """The normalized form of a name: its tokens joined by spaces (word order erased)."""
    return " ".join(name_tokens(name))


def surname_tokens(name: str) -> frozenset[str]:
    """The surname as the list marks it: before the comma, or the words in capitals."""
    if "," in name:
        return frozenset(_keep(_words(name.split(",", 1)[0])))
    raw = [w for w in re.split(r"[\s\-]+", name) if w]
    capitals = [w for w in raw if len(w) > 1 and w.isupper()]
    if capitals and len(capitals) < len(raw):
        return frozenset(_keep(_words(" ".join(capitals))))
    return frozenset()


def _glued_particle(long: str, short: str) -> bool:
    """`long` is `short` with a particle written in front ("benhaddou" / "haddou")."""
    cut = len(long) - len(short)
    return cut > 0 and long.endswith(short) and long[:cut] in PARTICLES


@lru_cache(maxsize=262144)
def token_similarity(a: str, b: str) -> float:
    """How alike two normalized tokens are, 0..1 (see the module docstring)."""
    if a == b:
        return 1.0
    if len(a) == 1 or len(b) == 1:
        # An initial against a full token: compatible, never conclusive.
        return 0.8 if a[0] == b[0] else 0.0
    if _glued_particle(a, b) or _glued_particle(b, a):
        return 0.95
    jw = JaroWinkler.normalized_similarity(a, b)
    shortest = min(len(a), len(b))
    if shortest >= 4 and DamerauLevenshtein.distance(a, b, score_cutoff=1) <= 1:
        return max(jw, 0.9)
    if shortest == 3 and DamerauLevenshtein.distance(a, b, score_cutoff=1) <= 1:
        return 0.8  # a typo in a short token: likely, but a third of the token
    if shortest >= 3 and jw >= SKELETON_MIN_JW and skeleton(a) == skeleton(b):
        return max(jw, 0.9)
    base = min(jw, fuzz.ratio(a, b) / 100.0)
    return base**4


@dataclass(frozen=True)
class ListedName:
    """A listed name (primary or alias), ready to score against."""

    text: str
    tokens: tuple[str, ...]
    surname: frozenset[str] = frozenset()
    entity: bool = False

    @classmethod
    def of(cls, text: str, *, entity: bool = False) -> ListedName:
        return cls(
            text=text,
            tokens=name_tokens(text),
            surname=frozenset() if entity else surname_tokens(text),
            entity=entity,
        )


def _weight(token: str, entity: bool) -> float:
    return GENERIC_WEIGHT if entity and token in GENERIC_WORDS else 1.0


def _join_compounds(query: Sequence[str], candidate: Sequence[str]) -> tuple[str, ...]:
    """Join two tokens of `candidate` that `query` writes as one ("abdul rahim"/"abdulrahim")."""
    tokens = list(candidate)
    for q in query:
        if len(q) < 5 or q in tokens:
            continue
        best: tuple[float, int, int] | None = None
        for i, a in enumerate(tokens):
            for j, b in enumerate(tokens):
                if i == j or not q.startswith(a[:1]) or abs(len(a) + len(b) - len(q)) > 2:
                    continue
                sim = token_similarity(q, a + b)
                if sim >= 0.9 and (best is None or sim > best[0]):
                    best = (sim, i, j)
        if best is not None:
            _, i, j = best
            glued = tokens[i] + tokens[j]
            tokens = [t for k, t in enumerate(tokens) if k not in (i, j)] + [glued]
    return tuple(tokens)


def _aligned(
    query: Sequence[str], candidate: Sequence[str], listed: ListedName
) -> tuple[float, bool]:
    """(score, surname matched) of one alignment of `query` against `candidate` tokens."""
    entity = listed.entity
    alpha = ENTITY_ALPHA if entity else PERSON_ALPHA
    pairs = sorted(
        (
            (token_similarity(q, c), i, j)
            for i, q in enumerate(query)
            for j, c in enumerate(candidate)
        ),
        reverse=True,
    )
    used_q: set[int] = set()
    used_c: set[int] = set()
    total = weight = 0.0
    surname_hit = not listed.surname
    for sim, i, j in pairs:
        if i in used_q or j in used_c:
            continue
        if sim <= 0.0:
            break
        used_q.add(i)
        used_c.add(j)
        w = max(_weight(query[i], entity), _weight(candidate[j], entity))
        total += sim * w
        weight += w
        if sim >= SURNAME_MIN and not surname_hit:
            c = candidate[j]
            surname_hit = any(
                c.startswith(s) or c.endswith(s) or token_similarity(c, s) >= SURNAME_MIN
                for s in listed.surname
            )
        if len(used_q) == len(query) or len(used_c) == len(candidate):
            break
    missing = sum(_weight(t, entity) for i, t in enumerate(query) if i not in used_q)
    missing += sum(_weight(t, entity) for j, t in enumerate(candidate) if j not in used_c)
    denominator = weight + alpha * missing
    return (total / denominator if denominator else 0.0), surname_hit


def score_listed(query: Sequence[str], listed: ListedName) -> float:
    """Similarity of query tokens to a listed name, 0..1, independent of word order."""
    candidate = listed.tokens
    if not query or not candidate:
        return 0.0
    score, surname_hit = _aligned(query, candidate, listed)
    if score < 0.99 and len(query) != len(candidate):
        if len(query) < len(candidate):
            joined = _aligned(query, _join_compounds(query, candidate), listed)
        else:
            joined = _aligned(_join_compounds(candidate, query), candidate, listed)
        if joined[0] > score:
            score, surname_hit = joined
    if not surname_hit:
        score = min(score, 0.7)
    if min(len(query), len(candidate)) == 1 and max(len(query), len(candidate)) > 1:
        score = min(score, SINGLE_TOKEN_CAP)
    return max(0.0, min(score, 1.0))


# Tokens like nothing: a query's syllable with no spelling that fits, a listed spelling of
# another known name (token_similarity gives 0 when one token is a single other character).
NO_MATCH, SET_ASIDE = "\x02", "\x01"


def _fits(spelling: str, token: str) -> bool:
    """A strict spelling fits a listed token as it is, or as part of it written together."""
    if spelling == token:
        return True
    return min(len(spelling), len(token)) >= 2 and (
        token.startswith(spelling) or token.endswith(spelling) or spelling.startswith(token)
    )


def _spelled(spellings: Spellings, candidate: Sequence[str]) -> str:
    if len(spellings) == 1 and not spellings.strict:
        return spellings[0]
    if spellings.strict:
        fitting = [s for s in spellings if any(_fits(s, c) for c in candidate)]
        if not fitting:
            return NO_MATCH
        spellings = Spellings(tuple(fitting))
    # Against each token and each two written together ("Mohammad Bagher" / محمدباقر).
    targets = [*candidate, *(a + b for a in candidate for b in candidate if a != b)]
    return max(spellings, key=lambda s: max(token_similarity(s, c) for c in targets))


def resolve(positions: Positions, candidate: Sequence[str]) -> tuple[str, ...]:
    """The query's tokens spelled as close to `candidate` as each position allows.

    A strict position (a Hangul syllable, a Chinese name part) takes only a spelling it has
    (or one written together with the next); one that has none matches nothing.
    """
    return tuple(_spelled(p, candidate) for p in positions)


def _other_names(positions: Positions, listed: ListedName) -> ListedName:
    """The listed name with tokens that spell another known name than the query's put aside.

    "Hasan" is a spelling of حسن: a query's حسين (Hussein) does not stand for it, however
    alike the Latin looks.
    """
    known = frozenset().union(*(p.names for p in positions))
    if not known:
        return listed
    spelled = {t for p in positions for t in p}
    tokens = tuple(
        SET_ASIDE + str(i)
        if not any(t in s for s in spelled)
        and translit.names_spelled(t)
        and not translit.names_spelled(t) & known
        else t
        for i, t in enumerate(listed.tokens)
    )
    if tokens == listed.tokens:
        return listed
    return ListedName(listed.text, tokens, listed.surname, listed.entity)


def score_positions(positions: Positions, listed: ListedName) -> float:
    """`score_listed` for a query with several spellings per position: the closest counts."""
    if not positions or not listed.tokens:
        return 0.0
    listed = _other_names(positions, listed)
    return score_listed(resolve(positions, listed.tokens), listed)


def listed_variants(text: str, *, entity: bool = False) -> list[ListedName]:
    """A listed name, and when it is in another script its other usual spellings too."""
    primary = ListedName.of(text, entity=entity)
    if not translit.needs_rules(text):
        return [primary]
    positions = name_positions(text)
    widest = max((len(p) for p in positions), default=1)
    variants = [primary]
    seen = {primary.tokens}
    spellings = [tuple(sorted(p[min(k, len(p) - 1)] for p in positions)) for k in range(widest)]
    if translit.needs_rules(text):  # and one syllable a token: "李文浩" as "li wen hao" too
        spellings.insert(1, tuple(sorted(_keep(_words(text)))))
    for tokens in spellings[: LISTED_SPELLINGS + 1]:
        if tokens not in seen:
            seen.add(tokens)
            variants.append(ListedName(text, tokens, primary.surname, entity))
    return variants


def score_names(query: str, listed: str, *, entity: bool = False) -> float:
    """Similarity of a name to a listed name as written, 0..1 (either may be in any script)."""
    positions = name_positions(query)
    return max(score_positions(positions, v) for v in listed_variants(listed, entity=entity))
