"""Fuzz driver for the readers: mutated rule files (text and YAML) and events files through
check, fmt --check, convert, test and explain, and mutated transaction files (CSV) through
`fit` and `replay`, in-process; counts exits 3 (internal errors) and escaped exceptions, and
keeps every input that gave one in /tmp/fuzz_exit3_<seed>_<i>.<ext>. Not a test: run it by hand.

    python benchmarks/fuzz_inputs.py [N] [SEED] [--kinds rules,events,transactions]   (from the project root)

Mutations: random byte edits, token swaps and duplications, huge numbers (`9` * 5000, `1e5000`),
deep nesting (`not` chains, `[[[...`), odd unicode (NEL, DEL, U+2028, combining marks, RTL),
dates near year 1 and 9999, self-referencing YAML aliases. Transaction files: renamed, dropped,
duplicated or empty header names, a BOM, odd dates (year 1 and 9999, 30 February, ten-digit
years, epoch numbers), odd amounts (`1e5000`, NaN, Infinity, `1,000.00`, 5,000 digits),
unbalanced and doubled quotes, quoted newlines, empty files and header-only files, a 1 MiB field,
NUL bytes, and the byte edits above.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import io
import os
import random
import sys
import tempfile
import time
from collections import Counter

sys.setrecursionlimit(1000)
from rulelang.tools.cli import main  # noqa: E402

ODD = ["\x85", "\x7f", "\u2028", "\u0301", "\u202e", "\ufeff", "\x00", "\t", "\r", "é", "😀", "²"]
HUGE = ["9" * 5000, "1e5000", "1e999999999", "Infinity", "NaN", "-1", "0001-01-01", "9999-12-31",
        "99999999999999999999999999999999999", "10:1000000000000", "0.0000000000000000000000000000000001"]
DEEP = ["not " * 600 + "true", "(" * 600 + "true" + ")" * 600, "[" * 2000 + "]" * 2000, "{a: " * 500 + "1" + "}" * 500]


def mutate(text: str, rng: random.Random) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(7)
        pos = rng.randrange(len(chars) + 1)
        if kind == 0 and chars:  # delete a span
            del chars[pos:pos + rng.randint(1, 8)]
        elif kind == 1:  # insert odd unicode
            chars[pos:pos] = rng.choice(ODD)
        elif kind == 2:  # replace a number with a huge one
            words = "".join(chars).split(" ")
            digits = [i for i, w in enumerate(words) if any(c.isdigit() for c in w)]
            if digits:
                i = rng.choice(digits)
                words[i] = "".join(c for c in words[i] if not c.isdigit()) + rng.choice(HUGE)
            chars = list(" ".join(words))
        elif kind == 3:  # deep nesting
            chars[pos:pos] = rng.choice(DEEP)
        elif kind == 4 and chars:  # duplicate a line
            lines = "".join(chars).split("\n")
            i = rng.randrange(len(lines))
            lines.insert(i, lines[i])
            chars = list("\n".join(lines))
        elif kind == 5:  # random byte
            chars[pos:pos] = chr(rng.randrange(0, 0x250))
        elif kind == 6:  # swap two words
            words = "".join(chars).split(" ")
            if len(words) > 2:
                a, b = rng.randrange(len(words)), rng.randrange(len(words))
                words[a], words[b] = words[b], words[a]
            chars = list(" ".join(words))
    return "".join(chars)


TX_DATES = ["0001-01-01", "9999-12-31", "2027-02-30", "2027-13-01", "20270101", "27-01-01", "1e9",
            "99999-01-01", "2027-05-03 25:61:00", "", " ", "NaT", "1700000000", "2027-05-03T09:00:00+99:00",
            "2027-05-03 09:00:00.123456789", "-2027-05-03"]
TX_AMOUNTS = ["1e5000", "9" * 5000, "NaN", "Infinity", "-Infinity", "-1", "0", "1,000.00", "1.000,00", "",
              "0x10", "1e-400", "99999999999999999999.99", "12.345", "€5", "1_000", " 7 ", "+3", "--1"]
TX_FIELDS = ['"', '""', '"a""b"', '"x\ny"', "\x00", "\r", "\ufeff", "x" * (1 << 20), ",", ";", "\t",
             "\x85", "\u2028", "purchase", "return", "refund", "A"]


def mutate_transactions(text: str, rng: random.Random) -> str:
    """A transaction CSV with 1-4 structural edits, and sometimes the text edits of `mutate`."""
    lines = text.split("\n")
    header = lines[0].split(",") if lines else []
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(11)
        if kind == 0 and header:  # rename, drop, duplicate or empty a header name
            i = rng.randrange(len(header))
            op = rng.randrange(4)
            if op == 0:
                header[i] = rng.choice(["", "customer_id", "date", "amount", "kind", "Amount ", "\ufeffdate", "x" * 300])
            elif op == 1 and len(header) > 1:
                del header[i]
            elif op == 2:
                header.insert(i, header[i])
            else:
                header = []
        elif kind == 1:  # a BOM
            header[:1] = ["\ufeff" + (header[0] if header else "")]
        elif kind in (2, 3, 4) and len(lines) > 1:  # a field replaced with an odd date / amount / text
            r = rng.randrange(1, len(lines))
            cells = lines[r].split(",")
            if cells:
                c = rng.randrange(len(cells))
                cells[c] = rng.choice(TX_DATES if kind == 2 else TX_AMOUNTS if kind == 3 else TX_FIELDS)
                lines[r] = ",".join(cells)
        elif kind == 5:  # empty file or header only
            return "" if rng.random() < 0.5 else ",".join(header) + "\n"
        elif kind == 6 and len(lines) > 1:  # a row with too few or too many cells
            r = rng.randrange(1, len(lines))
            lines[r] = lines[r] + ",extra" * rng.randint(1, 3) if rng.random() < 0.5 else lines[r].split(",")[0]
        elif kind == 7 and len(lines) > 1:  # duplicate many rows
            r = rng.randrange(1, len(lines))
            lines[r:r] = [lines[r]] * rng.randint(2, 200)
        elif kind == 8:  # line ends: CR only, CRLF, none at the end
            sep = rng.choice(["\r", "\r\n", ""])
            return sep.join([",".join(header)] + lines[1:]) if sep else ",".join([",".join(header)] + lines[1:])
        elif kind == 9:  # a semicolon-separated or tab-separated file
            return "\n".join(l.replace(",", rng.choice([";", "\t"])) for l in [",".join(header)] + lines[1:])
        else:  # the text edits of rule files
            return mutate("\n".join([",".join(header)] + lines[1:]), rng)
    return "\n".join([",".join(header)] + lines[1:])


def run(argv: list[str]) -> int:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        return main(argv)


TX_SOURCES = ["tests/simulator/fixtures/replay/tiny.csv", "tests/simulator/fixtures/replay/tiny_eur.csv",
              "tests/fixtures/cdnow/transactions.csv"]


def main_fuzz(n: int, seed: int, kinds: set[str] | None = None) -> None:
    kinds = kinds or {"rules", "events", "transactions"}
    rng = random.Random(seed)
    programs = sorted(glob.glob("rules/*.loyalty") + glob.glob("rules/*.yaml"))
    events = sorted(glob.glob("rules/events/*.yaml"))
    sources = {p: open(p, encoding="utf-8").read() for p in programs + events}
    for t in TX_SOURCES:  # the CDNOW file cut to its first 300 rows: a fit stays quick
        sources[t] = "\n".join(open(t, encoding="utf-8").read().split("\n")[:300])
    # transaction files draw from their own stream, so that the rule and events inputs of a seed
    # are the same whether transaction files are fuzzed too or not
    tx_rng = random.Random(f"transactions-{seed}")
    exits: Counter[int] = Counter()
    internal: Counter[str] = Counter()
    escaped: Counter[str] = Counter()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(n):
            if "transactions" in kinds and (kinds == {"transactions"} or tx_rng.random() < 0.2):
                kind = "transactions"
            elif "events" in kinds and events and (kinds & {"rules"} == set() or rng.random() < 0.3):
                kind = "events"
            else:
                kind = "rules"
            if kind == "transactions":
                tx = tx_rng.choice(TX_SOURCES)
                path = os.path.join(tmp, f"t{i}.csv")
                with open(path, "w", encoding="utf-8", newline="") as fh:
                    fh.write(mutate_transactions(sources[tx], tx_rng))
                prog = tx_rng.choice([p for p in programs if p.endswith(".loyalty")])
                extra = ["--decimal", ","] if tx.endswith("_eur.csv") else []
                commands = [["fit", path, "--out", os.path.join(tmp, "pop.yaml"), "--no-customers", *extra],
                            ["replay", prog, "--transactions", path, "--workers", "1", *extra]]
            elif kind == "events":
                ev = rng.choice(events)
                prog = rng.choice([p for p in programs if p.endswith(".loyalty")])
                path = os.path.join(tmp, f"e{i}.yaml")
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write(mutate(sources[ev], rng))
                commands = [["explain", prog, "--events", path]]
            else:
                prog = rng.choice(programs)
                path = os.path.join(tmp, f"p{i}" + os.path.splitext(prog)[1])
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write(mutate(sources[prog], rng))
                to = "text" if path.endswith(".yaml") else "yaml"
                commands = [["check", path], ["convert", path, "--to", to], ["test", path]]
                if path.endswith(".loyalty"):
                    commands.append(["fmt", "--check", path])
            for argv in commands:
                try:
                    code = run(argv)
                except BaseException as exc:  # noqa: BLE001
                    escaped[f"{argv[0]}: {type(exc).__name__}: {str(exc)[:80]}"] += 1
                    continue
                exits[code] += 1
                if code == 3:
                    os.environ["LOYALTY_DEBUG"] = "1"
                    try:
                        run(argv)
                    except BaseException as exc:  # noqa: BLE001
                        internal[f"{argv[0]}: {type(exc).__name__}: {str(exc)[:100]}"] += 1
                    finally:
                        del os.environ["LOYALTY_DEBUG"]
                    keep = os.path.join("/tmp", f"fuzz_exit3_{seed}_{i}{os.path.splitext(path)[1]}")
                    with open(path, encoding="utf-8", errors="replace") as src, open(keep, "w") as dst:
                        dst.write(src.read())
            os.unlink(path)
    elapsed = time.perf_counter() - started
    print(f"{n} inputs, {sum(exits.values())} commands in {elapsed:.0f} s; exits {dict(sorted(exits.items()))}; "
          f"escaped exceptions {sum(escaped.values())}")
    for cause, count in (internal + escaped).most_common():
        print(f"  {count:5d}  {cause}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n", nargs="?", type=int, default=500, help="inputs to try (default 500)")
    parser.add_argument("seed", nargs="?", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--kinds", default="rules,events,transactions",
                        help="comma-separated file kinds to mutate (default all three)")
    args = parser.parse_args()
    main_fuzz(args.n, args.seed, set(args.kinds.split(",")))
