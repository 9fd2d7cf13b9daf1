"""Screening speed: 10,000 names against a 10,000-entry list, with the blocking index.

The list and the queries are synthetic (seeded): people's names from several naming
traditions, each entry with one or two aliases, and a tenth of the queries variants of listed
names (the rest unrelated people). Reported, all in this one run on this machine:

- building the index from the entries;
- screening all queries through the index (`NameIndex.search`, the code the API runs);
- the reference the index avoids: the same scorer over every listed name, measured on a
  sample of queries and scaled to all of them; and rapidfuzz's C full scan
  (`process.extract` with the token-set ratio over every name), the floor of any full scan.

    .venv/bin/python bench/screening_speed.py [--entries 10000] [--queries 10000]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "backend"))

from app.compliance.matching import ListedName, name_tokens, score_listed  # noqa: E402
from app.compliance.name_index import IndexedEntry, NameIndex  # noqa: E402
from rapidfuzz import fuzz, process  # noqa: E402


def _words(text: str) -> list[str]:
    return text.split()


GIVEN = _words(
    """
ahmad ali hassan hussein omar khalid yusuf ibrahim mahmoud mustafa karim tariq rashid samir
fatima aisha maryam zainab layla noor amira huda salma rania viktor sergei dmitri nikolai
ivan alexei mikhail yevgeny andrei pavel oleg boris igor anatoly natalia olga irina svetlana
tatiana anastasia elena marina ekaterina yulia jose carlos luis juan pedro miguel jorge
alejandro fernando ricardo maria ana lucia carmen isabel sofia elena gabriela paula rosa wei
li ming jun hao lei yang jian feng tao mei ling xiu hua yan jing kim park lee choi jung kang
hamid reza mohsen ali akbar javad mehdi saeed abbas morteza chukwuemeka emeka oluwaseun
tunde adebayo ngozi amara chidi obinna kwame kofi jean pierre marc francois louis michel
henri andre claude giovanni marco luca giuseppe antonio salvatore francesco paolo zoran
dragan milan goran nenad vesna jelena ayse mehmet mustafa emre fatih zeynep elif burak
"""
)
SURNAME = _words(
    """
karimov petrov ivanov sokolov volkov smirnov kuznetsov popov lebedev kozlov novikov morozov
orlov fedorov mikhailov andreev alekseev pavlov semenov golubev vinogradov bogdanov
haddad khalil nasser saleh hamdan darwish mansour qasim haidar jaber sultan bakr hamid
abbas farouk rahman salem aziz najjar shami masri tamimi zahra garcia rodriguez martinez
hernandez lopez gonzalez perez sanchez ramirez torres flores rivera gomez diaz cruz morales
ortiz gutierrez chavez ramos ruiz alvarez mendoza castillo jimenez moreno romero vargas
wang zhang liu chen yang huang zhao zhou wu xu sun ma zhu hu guo he lin luo gao kim lee
park choi jung kang cho yoon jang lim jafari moradi hosseini rezaei mohammadi karimi
ahmadi rahimi sadeghi ghorbani okafor okonkwo adeyemi nwosu eze obi balogun bello mensah
dubois martin bernard thomas petit robert richard durand leroy moreau rossi russo ferrari
esposito bianchi romano colombo ricci marino greco jovanovic petrovic nikolic markovic
djordjevic yilmaz kaya demir sahin celik yildiz aydin ozturk arslan dogan
"""
)
MIDDLE = _words(
    """
sergeyevich ivanovich petrovich aleksandrovich vladimirovich nikolaevich ibrahim mohammed
abdul hassan ali luis maria antonio jose eduardo xiao jun reza akbar oluwaseun
"""
)


def person(rng: random.Random) -> list[str]:
    parts = [rng.choice(GIVEN)]
    if rng.random() < 0.5:
        parts.append(rng.choice(MIDDLE))
    parts.append(rng.choice(SURNAME))
    if rng.random() < 0.2:
        parts.append(rng.choice(SURNAME))
    return parts


def typo(rng: random.Random, word: str) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    op = rng.choice("sdit")
    if op == "s":
        return word[:i] + rng.choice("aeiourstln") + word[i + 1 :]
    if op == "d":
        return word[:i] + word[i + 1 :]
    if op == "i":
        return word[:i] + rng.choice("aeiou") + word[i:]
    return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]


def build(entries: int, queries: int, seed: int):
    rng = random.Random(seed)
    listed: list[IndexedEntry] = []
    seen: set[str] = set()
    while len(listed) < entries:
        parts = person(rng)
        key = " ".join(parts)
        if key in seen:
            continue
        seen.add(key)
        primary = f"{parts[-1].upper()}, {' '.join(p.title() for p in parts[:-1])}"
        aliases = [" ".join(p.title() for p in parts[::-1])]
        if rng.random() < 0.5:
            aliases.append(" ".join(typo(rng, p).title() for p in parts))
        listed.append(
            IndexedEntry(
                entry_id=len(listed), name=primary, program="BENCH", names=(primary, *aliases)
            )
        )
    asked: list[str] = []
    for _ in range(queries):
        if rng.random() < 0.1:
            parts = list(name_tokens(rng.choice(listed).name))
            rng.shuffle(parts)
            asked.append(" ".join(typo(rng, p) if rng.random() < 0.3 else p for p in parts))
        else:
            asked.append(" ".join(p.title() for p in person(rng)))
    return listed, asked


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument(
        "--sample", type=int, default=100, help="queries for the full-scan reference"
    )
    parser.add_argument("--seed", type=int, default=20261201)
    args = parser.parse_args()

    listed, asked = build(args.entries, args.queries, args.seed)
    names = sum(len(e.names) for e in listed)

    t0 = time.perf_counter()
    index = NameIndex.build(listed)
    built = time.perf_counter() - t0

    t0 = time.perf_counter()
    hits = 0
    for query in asked:
        hits += bool(index.search(query, threshold=0.8))
    blocked = time.perf_counter() - t0

    # Reference 1: the same scorer over every listed name (what blocking avoids).
    everything = [ListedName.of(n) for e in listed for n in e.names]
    sample = asked[: args.sample]
    t0 = time.perf_counter()
    for query in sample:
        tokens = name_tokens(query)
        for listed_name in everything:
            score_listed(tokens, listed_name)
    full_scan = (time.perf_counter() - t0) * len(asked) / len(sample)

    # Reference 2: rapidfuzz's C full scan (token-set ratio over every name), scaled likewise.
    texts = [" ".join(x.tokens) for x in everything]
    c_sample = asked[: max(args.sample * 10, 1)]
    t0 = time.perf_counter()
    for query in c_sample:
        process.extract(
            " ".join(name_tokens(query)),
            texts,
            scorer=fuzz.token_set_ratio,
            score_cutoff=50,
            limit=10,
        )
    c_scan = (time.perf_counter() - t0) * len(asked) / len(c_sample)

    print(f"list: {len(listed)} entries ({names} names with aliases); {len(asked)} queries")
    print(f"index build:             {built:7.2f} s")
    print(
        f"screening, blocked:      {blocked:7.2f} s  ({len(asked) / blocked:,.0f} names/s, "
        f"{hits} queries with a match)"
    )
    print(
        f"reference, full scan with the same scorer (from {len(sample)} queries): "
        f"{full_scan:7.1f} s  → blocked is {full_scan / blocked:,.0f}× faster"
    )
    print(
        f"reference, rapidfuzz C full scan (token-set only, from {len(c_sample)} queries): "
        f"{c_scan:7.2f} s  "
        f"→ blocked/C-scan = {blocked / c_scan:.2f}"
    )
    print("machine: shared, 2 cores; compare the ratios, not the seconds")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
