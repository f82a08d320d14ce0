"""Fuzz driver for the language's readers: mutated rule files (text and YAML) and events files
through check, fmt --check, convert, test and explain, in-process; counts exits 3 (internal errors)
and escaped exceptions. Not a test: run it by hand.

    python benchmarks/fuzz_inputs.py [N] [SEED]     (from the project root)

Mutations: random byte edits, token swaps and duplications, huge numbers (`9` * 5000, `1e5000`),
deep nesting (`not` chains, `[[[...`), odd unicode (NEL, DEL, U+2028, combining marks, RTL),
dates near year 1 and 9999, self-referencing YAML aliases.
"""

from __future__ import annotations

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


def run(argv: list[str]) -> int:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        return main(argv)


def main_fuzz(n: int, seed: int) -> None:
    rng = random.Random(seed)
    programs = sorted(glob.glob("rules/*.loyalty") + glob.glob("rules/*.yaml"))
    events = sorted(glob.glob("rules/events/*.yaml"))
    sources = {p: open(p, encoding="utf-8").read() for p in programs + events}
    exits: Counter[int] = Counter()
    internal: Counter[str] = Counter()
    escaped: Counter[str] = Counter()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(n):
            if events and rng.random() < 0.3:
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
    main_fuzz(int(sys.argv[1]) if len(sys.argv) > 1 else 500, int(sys.argv[2]) if len(sys.argv) > 2 else 1)
