"""Screening quality: recall and precision at the default threshold on bench/screening_eval.csv.

The list is the invented fixture `app/compliance/fixtures/sanctions_demo.csv`. Each line of the
evaluation set is a query with the list entry it should match (a true variant: word order,
accents, missing middle name, one typo, transliteration, punctuation) or none (an innocent
look-alike or an unrelated name). A query counts as a true positive when its expected entry is
among the matches, a false positive for every other entry it matches.

    .venv/bin/python bench/screening_eval.py [--threshold 0.80] [--verbose]

`--sources` writes the demo list in each publisher's layout (OFAC's three CSV files, the UN's
and the EU's XML, the UK's CSV: `list_layouts.py`), reads it back with Flowlet's loaders and
scores the same set against each: recall and precision per list source.

`--scripts` scores `bench/screening_scripts.csv` instead: names written in Arabic, Persian,
Hangul, Han and Cyrillic script (`query`) against a list of their Latin names (`listed`, as
the lists write them), each the name of the listed person (`expected` = match) or of someone
else whose name is close (`lookalike`) or not (`unrelated`). The list is every distinct
`listed` name, so a query may also match the wrong person; recall and precision per script.
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "backend"))
sys.path.insert(0, str(ROOT / "bench"))

from app.compliance.list_file import indexed, parse_list  # noqa: E402
from app.compliance.name_index import IndexedEntry, NameIndex  # noqa: E402
from app.compliance.sanctions import FIXTURE  # noqa: E402

EVAL = Path(__file__).with_name("screening_eval.csv")
SCRIPTS_EVAL = Path(__file__).with_name("screening_scripts.csv")


ACCENTS = {"a": "á", "e": "é", "i": "í", "o": "ö", "u": "ü", "c": "ç", "n": "ñ", "s": "š"}


def synthetic(entries, seed: int) -> list[dict]:
    """Generated rows: a true variant of each listed person and two look-alikes."""
    import random

    rng = random.Random(seed)
    people = [e for e in entries if e.entry_type == "individual"]
    rows = []

    def row(query, expected, kind):
        return {
            "query": query,
            "date_of_birth": "",
            "country": "",
            "expected": expected or "",
            "kind": kind,
        }

    for entry in people:
        surname, _, given = entry.name.partition(",")
        given_parts, surname_parts = given.split(), surname.replace("-", " ").split()
        kind = rng.choice(["word_order", "accents", "missing_middle", "typo"])
        parts = [p.title() for p in given_parts + surname_parts]
        if kind == "word_order":
            rng.shuffle(parts)
        elif kind == "accents":
            parts = [
                "".join(ACCENTS.get(c, c) if rng.random() < 0.3 else c for c in p) for p in parts
            ]
        elif kind == "missing_middle" and len(given_parts) > 1:
            parts = [given_parts[0].title()] + [p.title() for p in surname_parts]
        else:
            kind = "typo"
            longest = max(range(len(parts)), key=lambda i: len(parts[i]))
            word = parts[longest]
            i = rng.randrange(1, len(word) - 1)
            parts[longest] = word[:i] + rng.choice("aeioulnrst") + word[i + 1 :]
        rows.append(row(" ".join(parts), entry.uid, kind))
        # Look-alikes: the first name with another listed surname; the surname with two edits.
        other = rng.choice([p for p in people if p is not entry])
        rows.append(
            row(f"{given_parts[0]} {other.name.partition(',')[0].title()}", None, "lookalike")
        )
        word = surname_parts[-1].lower()
        consonants = [i for i, c in enumerate(word) if c not in "aeiouy" and i > 0]
        if len(word) >= 5 and len(consonants) >= 2:
            # Two consonants changed: a different name, not a typo.
            changed = list(word)
            for i in rng.sample(consonants, 2):
                changed[i] = rng.choice([c for c in "bdfgklmnprstvz" if c != word[i]])
            rows.append(row(f"{given_parts[0]} {''.join(changed).title()}", None, "lookalike"))
    return rows


def evaluate_scripts(
    path: Path = SCRIPTS_EVAL, *, threshold: float = 0.80, verbose: bool = False
) -> dict[str, dict[str, float]]:
    """Per script (and "all"): tp, fn, fp, tn, recall, precision of the scripts set."""
    with path.open(encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    listed = sorted({r["listed"] for r in rows if r["listed"]})
    index = NameIndex.build(IndexedEntry(i, name, "EVAL", (name,)) for i, name in enumerate(listed))
    counts: dict[str, dict[str, float]] = {}
    for row in rows:
        found = {m.entry.name for m in index.search(row["query"], threshold=threshold)}
        expected = row["listed"] if row["expected"] == "match" else None
        wrong = found - {expected}
        for key in (row["script"], "all"):
            c = counts.setdefault(key, dict.fromkeys(("tp", "fn", "fp", "tn"), 0.0))
            if expected:
                c["tp" if expected in found else "fn"] += 1
            else:
                c["tn"] += not wrong
            c["fp"] += len(wrong)
        if verbose and ((expected and expected not in found) or wrong):
            print(f"  {row['script']:8} {row['query']} ~ {row['listed']!r}: got {sorted(found)}")
    for c in counts.values():
        c["recall"] = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
        c["precision"] = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
    return counts


def print_scripts(counts: dict[str, dict[str, float]], threshold: float) -> None:
    print(f"names in other scripts; threshold {threshold:.2f}")
    heads = (("true", 5), ("caught", 6), ("others", 6), ("FP", 3), ("recall", 7), ("prec.", 6))
    print(f"  {'script':9} " + " ".join(f"{h:>{w}}" for h, w in heads))
    for script, c in counts.items():
        print(
            f"  {script:9} {c['tp'] + c['fn']:5.0f} {c['tp']:6.0f} {c['tn'] + c['fp']:6.0f}"
            f" {c['fp']:3.0f} {c['recall']:7.3f} {c['precision']:6.3f}"
        )


def score(
    entries: list, rows: list[dict], threshold: float, *, verbose: bool = False
) -> tuple[int, int, int, int, dict[str, list[int]]]:
    """True and false positives and negatives of `rows` against `entries`, and per kind."""
    uids = {i: e.uid for i, e in enumerate(entries)}
    index = NameIndex.build(indexed(e, i) for i, e in enumerate(entries))
    tp = fn = fp = tn = 0
    by_kind: dict[str, list[int]] = {}
    for row in rows:
        dob = date.fromisoformat(row["date_of_birth"]) if row["date_of_birth"] else None
        matches = index.search(
            row["query"], threshold=threshold, date_of_birth=dob, country=row["country"] or None
        )
        found = {uids[m.entry.entry_id] for m in matches}
        expected = row["expected"] or None
        hit = expected in found if expected else False
        wrong = found - {expected}
        kind = by_kind.setdefault(row["kind"], [0, 0])
        kind[1] += 1
        if expected:
            tp += hit
            fn += not hit
            kind[0] += hit
        else:
            tn += not wrong
            kind[0] += not wrong
        fp += len(wrong)
        if verbose and ((expected and not hit) or wrong):
            best = ", ".join(f"{uids[m.entry.entry_id]} {m.score:.2f}" for m in matches)
            print(
                f"  {'MISS' if expected and not hit else 'FP  '} {row['query']!r} "
                f"expected={expected} got=[{best}]"
            )
    return tp, fn, fp, tn, by_kind


def print_sources(entries: list, rows: list[dict], threshold: float) -> None:
    """The demo list written in each publisher's layout, read back by its loader, scored."""
    from app.compliance import eu, ofac, uk, un

    from list_layouts import to_eu, to_ofac, to_uk, to_un

    files = to_ofac(entries)
    numbered = {str(n): e.uid for n, e in enumerate(entries, start=1)}
    read = {
        "ofac-sdn": [
            replace(e, uid=numbered[e.uid])
            for e in ofac.read(*(files[f].decode() for f in ("SDN.CSV", "ALT.CSV", "ADD.CSV")))
        ],
        "un": list(un.read(to_un(entries))),
        "eu": list(eu.read(to_eu(entries))),
        "uk": list(uk.read(to_uk(entries))),
        "flowlet-csv": entries,
    }
    print(f"{len(rows)} queries against the demo list in each layout; threshold {threshold:.2f}")
    print("| source | entries read | recall | precision | false positives |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for source, listed in read.items():
        tp, fn, fp, _tn, _ = score(listed, rows, threshold)
        recall = tp / (tp + fn) if tp + fn else 1.0
        precision = tp / (tp + fp) if tp + fp else 1.0
        print(f"| {source} | {len(listed)} | {recall:.3f} | {precision:.3f} | {fp} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=0.80)
    parser.add_argument("--eval", type=Path, default=EVAL)
    parser.add_argument("--list", type=Path, default=FIXTURE)
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument(
        "--synthetic",
        type=int,
        default=0,
        metavar="SEED",
        help="instead of the hand-written set, generate variants and look-alikes from the list",
    )
    parser.add_argument(
        "--scripts", action="store_true", help="score names in other scripts (per script)"
    )
    parser.add_argument(
        "--sources",
        action="store_true",
        help="score the list as each publisher's layout and its loader give it (per source)",
    )
    args = parser.parse_args()
    if args.scripts:
        print_scripts(
            evaluate_scripts(threshold=args.threshold, verbose=args.verbose), args.threshold
        )
        return 0

    with args.list.open(encoding="utf-8") as stream:
        entries = list(parse_list(stream))
    rows = synthetic(entries, args.synthetic) if args.synthetic else None
    with args.eval.open(encoding="utf-8") as stream:
        rows = rows or list(csv.DictReader(stream))
    if args.sources:
        print_sources(entries, rows, args.threshold)
        return 0
    tp, fn, fp, tn, by_kind = score(entries, rows, args.threshold, verbose=args.verbose)
    recall = tp / (tp + fn) if tp + fn else 1.0
    precision = tp / (tp + fp) if tp + fp else 1.0
    print(f"list: {len(entries)} entries; threshold {args.threshold:.2f}")
    print(
        f"true variants: {tp + fn}, caught {tp}; look-alikes/innocent: {tn + (fp and 0)}"
        f" clear of {sum(v[1] for k, v in by_kind.items() if k in ('lookalike', 'innocent'))}"
    )
    for kind, (ok, total) in sorted(by_kind.items()):
        print(f"  {kind:16} {ok}/{total}")
    print(f"recall {recall:.3f}  precision {precision:.3f}  (false positives: {fp})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
