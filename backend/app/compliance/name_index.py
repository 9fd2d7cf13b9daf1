"""The blocking index of listed names, and the date of birth and country adjustments.

**Blocking** (`NameIndex`): each listed name is indexed under every token, every token's
skeleton, every one-letter deletion of tokens of four letters or more (SymSpell: two tokens
one edit apart share a deletion), and pairs of its tokens glued together. A query scores
only the names that share keys with at least two of its tokens (one for a one-token query),
after a token-set prefilter run in C by `rapidfuzz.process.extract`; its cost follows the
entries that look like it, not the list size.

A candidate's score is its name score (`matching.score_listed`) adjusted by the date of birth
(`dob_adjustment`) and the country (`country_adjustment`). Pure, no database.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from rapidfuzz import fuzz, process

from app.compliance.matching import (
    SURNAME_MIN,
    ListedName,
    Positions,
    listed_variants,
    name_positions,
    score_listed,
    score_positions,
    skeleton,
    token_similarity,
)

# rapidfuzz token-set ratio (0–100) a listed name needs to be scored at all. True variants in
# the evaluation sets score 83 or more; the cut only saves time.
PREFILTER_CUTOFF = 70

# --- date of birth and country ------------------------------------------------------------------

DOB_MATCH_BONUS = 0.08
DOB_YEAR_BONUS = 0.04
DOB_CONFLICT_PENALTY = 0.15
COUNTRY_MATCH_BONUS = 0.03
COUNTRY_CONFLICT_PENALTY = 0.05


def parse_dob(value: str) -> tuple[int, int | None, int | None] | None:
    """`YYYY-MM-DD`, `DD Mon YYYY`, `YYYY` or `circa YYYY` → (year, month?, day?)."""
    text = value.strip()
    for fmt in ("%Y-%m-%d", "%d %b %Y", "%d %B %Y", "%Y/%m/%d", "%d/%m/%Y"):
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return parsed.year, parsed.month, parsed.day
    year = re.search(r"(18|19|20)\d\d", text)
    return (int(year.group()), None, None) if year else None


def dob_adjustment(query: date | None, listed: Iterable[str]) -> float:
    """Raise the score for a matching date of birth, lower it for a conflicting one."""
    if query is None:
        return 0.0
    parsed = [p for p in (parse_dob(v) for v in listed) if p]
    if not parsed:
        return 0.0
    best = -DOB_CONFLICT_PENALTY
    for year, month, day in parsed:
        if month is None:
            if year == query.year:
                best = max(best, DOB_YEAR_BONUS)
        elif (year, month, day) == (query.year, query.month, query.day):
            return DOB_MATCH_BONUS
        elif year == query.year:
            best = max(best, 0.0)  # same year, other day: neither for nor against
    return best


def country_adjustment(query: str | None, listed: Iterable[str]) -> float:
    """Raise the score when the country is one of the entry's, lower it when it is not."""
    countries = {c.upper() for c in listed if c}
    if not query or not countries:
        return 0.0
    return COUNTRY_MATCH_BONUS if query.upper() in countries else -COUNTRY_CONFLICT_PENALTY


# --- the index ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexedEntry:
    """What the index knows of one list entry (its id and matching data)."""

    entry_id: int
    name: str
    program: str
    names: tuple[str, ...]  # the primary name and every alias
    dates_of_birth: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    entity: bool = False
    public_id: str = ""
    entry_type: str = "individual"
    list_id: int = 0  # the list version the entry belongs to


@dataclass(frozen=True)
class Match:
    entry: IndexedEntry
    matched_name: str
    name_score: float
    score: float


@dataclass
class NameIndex:
    """Listed names (primary and aliases) under their blocking keys."""

    entries: list[IndexedEntry] = field(default_factory=list)
    _names: list[tuple[int, ListedName]] = field(default_factory=list)
    _texts: list[str] = field(default_factory=list)
    _keys: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def build(cls, entries: Iterable[IndexedEntry]) -> NameIndex:
        index = cls()
        for entry in entries:
            index.add(entry)
        return index

    def add(self, entry: IndexedEntry) -> None:
        position = len(self.entries)
        self.entries.append(entry)
        primary = ListedName.of(entry.names[0], entity=entry.entity)
        for listed in (
            v for name in entry.names for v in listed_variants(name, entity=entry.entity)
        ):
            if primary.surname and not listed.surname:
                # An alias without marks (another script): its words like the primary surname.
                like = frozenset(
                    t
                    for t in listed.tokens
                    if any(token_similarity(t, s) >= SURNAME_MIN for s in primary.surname)
                )
                if like:
                    listed = ListedName(listed.text, listed.tokens, like, listed.entity)
            if not listed.tokens:
                continue
            name_id = len(self._names)
            self._names.append((position, listed))
            self._texts.append(" ".join(listed.tokens))
            for key in set(_keys(listed.tokens)):
                self._keys[key].append(name_id)

    def __len__(self) -> int:
        return len(self.entries)

    def candidates(self, tokens: Sequence[str]) -> set[int]:
        """Ids of the listed names that could match `tokens`.

        A name is a candidate when at least two of the query's tokens (one for a one-token
        query) each share a key with it: only those can reach the line, since a single token
        in common is capped below it. Set intersections, so the work stays in C.
        """
        return self.candidates_of(tuple((token,) for token in set(tokens)))

    def candidates_of(self, positions: Sequence[Sequence[str]]) -> set[int]:
        """`candidates` for a query with several spellings per position (another script)."""
        per_token = []
        for spellings in positions:
            found: set[int] = set()
            for key in (k for token in spellings for k in _token_keys(token, query=True)):
                ids = self._keys.get(key)
                if ids:
                    found.update(ids)
            per_token.append(found)
        if len(per_token) == 1:
            return per_token[0]
        result: set[int] = set()
        for i, first in enumerate(per_token):
            for second in per_token[i + 1 :]:
                result |= first & second
        return result

    def search(
        self,
        name: str,
        *,
        threshold: float,
        date_of_birth: date | None = None,
        country: str | None = None,
        limit: int = 10,
    ) -> list[Match]:
        """Entries whose best name scores at least `threshold` (after DOB/country), best first."""
        best = self._best_names(name_positions(name))
        reach = threshold - DOB_MATCH_BONUS - COUNTRY_MATCH_BONUS
        matches = []
        for position, (name_score, listed) in best.items():
            if name_score < reach:
                continue
            entry = self.entries[position]
            score = name_score + dob_adjustment(date_of_birth, entry.dates_of_birth)
            score += country_adjustment(country, entry.countries)
            score = max(0.0, min(score, 1.0))
            if score >= threshold:
                matches.append(Match(entry, listed.text, round(name_score, 4), round(score, 4)))
        matches.sort(key=lambda m: (-m.score, m.entry.entry_id))
        return matches[:limit]

    def _best_names(self, positions: Positions) -> dict[int, tuple[float, ListedName]]:
        """Per candidate entry, its best name score and that name."""
        if not positions:
            return {}
        spelled_once = all(p.plain for p in positions)
        tokens = tuple(sorted(p[0] for p in positions))
        ids = self.candidates(tokens) if spelled_once else self.candidates_of(positions)
        if not ids:
            return {}
        if spelled_once:
            # The C prefilter: the token-set ratio discards what cannot come near the line.
            survivors = process.extract(
                " ".join(tokens),
                {name_id: self._texts[name_id] for name_id in ids},
                scorer=fuzz.token_set_ratio,
                score_cutoff=PREFILTER_CUTOFF,
                limit=None,
            )
            ids = {name_id for _text, _ratio, name_id in survivors}
        best: dict[int, tuple[float, ListedName]] = {}
        for name_id in sorted(ids):
            position, listed = self._names[name_id]
            if spelled_once:
                score = score_listed(tokens, listed)
            else:
                score = score_positions(positions, listed)
            if position not in best or score > best[position][0]:
                best[position] = (score, listed)
        return best


def _deletions(token: str) -> Iterable[str]:
    """The token with one letter removed, each way (SymSpell): one edit apart ⇒ a key shared."""
    for i in range(len(token)):
        yield token[:i] + token[i + 1 :]


def _token_keys(token: str, *, query: bool = False) -> Iterable[str]:
    if len(token) < 2:
        return
    yield f"t:{token}"
    yield f"s:{skeleton(token)}"
    if len(token) >= 4:
        for variant in _deletions(token):
            yield f"d:{variant}"
        yield f"d:{token}"
    if query:
        for particle in _GLUE_PREFIXES:
            rest = token[len(particle) :]
            if token.startswith(particle) and len(rest) >= 3:
                yield from _token_keys(rest)


_GLUE_PREFIXES = ("al", "el", "ben", "bin", "ibn", "abu", "abd", "abdul", "abdel", "van", "von")


def _keys(tokens: Sequence[str]) -> Iterable[str]:
    """Keys of a listed name: its tokens' keys, and two tokens glued ("wen hao" → "wenhao")."""
    for token in tokens:
        yield from _token_keys(token)
    if len(tokens) <= 4:
        for a in tokens:
            for b in tokens:
                if a != b:
                    yield f"t:{a}{b}"
