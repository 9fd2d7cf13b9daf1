"""Screening quality: recall and precision at the default threshold on bench/screening_eval.csv.

The list is the invented fixture `app/compliance/fixtures/sanctions_demo.csv`. Each line of the
evaluation set is a query with the list entry it should match (a true variant: word order,
accents, missing middle name, one typo, transliteration, punctuation) or none (an innocent
look-alike or an unrelated name). A query counts as a true positive when its expected entry is
among the matches, a false positive for every other entry it matches.

    .venv/bin/python bench/screening_eval.py [--threshold 0.80] [--verbose]
"""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "backend"))

from app.compliance.matching import NameIndex  # noqa: E402
from app.compliance.sanctions import FIXTURE, indexed, parse_list  # noqa: E402

EVAL = Path(__file__).with_name("screening_eval.csv")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=0.80)
    parser.add_argument("--eval", type=Path, default=EVAL)
    parser.add_argument("--list", type=Path, default=FIXTURE)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()

    with args.list.open(encoding="utf-8") as stream:
        entries = list(parse_list(stream))
    uids = {i: e.uid for i, e in enumerate(entries)}
    index = NameIndex.build(indexed(e, i) for i, e in enumerate(entries))

    tp = fn = fp = tn = 0
    by_kind: dict[str, list[int]] = {}
    with args.eval.open(encoding="utf-8") as stream:
        for row in csv.DictReader(stream):
            dob = date.fromisoformat(row["date_of_birth"]) if row["date_of_birth"] else None
            matches = index.search(
                row["query"],
                threshold=args.threshold,
                date_of_birth=dob,
                country=row["country"] or None,
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
            if args.verbose and ((expected and not hit) or wrong):
                best = ", ".join(f"{uids[m.entry.entry_id]} {m.score:.2f}" for m in matches)
                print(
                    f"  {'MISS' if expected and not hit else 'FP  '} {row['query']!r} "
                    f"expected={expected} got=[{best}]"
                )
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
