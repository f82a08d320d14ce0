"""Command-line pieces shared by `loyalty simulate` and the what-if commands.

Takes: argparse parsers (or argument groups) and argument strings. Gives: the argument
types `positive`, `at_most`, `seed`, `block_size` and `start_date` (bounded by
`rulelang.limits`: a value outside is a usage error, exit 2), `scheduler_address`, `add_run_options` (the
simulation options `--customers` to `--block-size`, and `--scheduler`), `money_amount` and `unit_share` (exact
amounts and rates), and `progress_printer`, the progress bar (rich) shown on a terminal and
nowhere else (`quiet_progress`: on CI or piped). Imports nothing heavy, so that `loyalty check` starts fast.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
from fractions import Fraction
from typing import Callable, TextIO

from rulelang.limits import MAX_CUSTOMERS, MAX_DATE, MAX_MONTHS, MAX_TRIALS, MAX_WORKERS, MIN_DATE

BLOCK = 1 << 16  # = simulator.engine.day_loop.BLOCK (pinned by a test); not imported so `loyalty check` starts fast


def positive(text: str) -> int:
    """A whole number of 1 or more (`10_000` allowed)."""
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {value}")
    return value


def at_most(limit: int, what: str) -> Callable[[str], int]:
    """An argument type: a whole number from 1 to `limit` (`what` names the bound in the error)."""

    def parse(text: str) -> int:
        value = positive(text)
        if value > limit:
            raise argparse.ArgumentTypeError(f"at most {limit:,} {what}, got {value:,}")
        return value

    parse.__name__ = "number"  # argparse names the type in "invalid number value" messages
    return parse


def start_date(text: str) -> dt.date:
    """A first simulated day between `MIN_DATE` and `MAX_DATE` (a run adds up to `MAX_MONTHS`
    months and the program's expiry periods to it)."""
    try:
        value = dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date such as 2027-01-01, got {text!r}") from None
    if not MIN_DATE <= value <= MAX_DATE:
        raise argparse.ArgumentTypeError(f"the first day must be between {MIN_DATE} and {MAX_DATE}, got {value}")
    return value


def money_amount(text: str) -> Fraction:
    """An amount of money of 0 or more in currency units (`0.01`), kept exact."""
    try:
        value = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"expected an amount such as 0.01, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {text}")
    return value


def unit_share(text: str) -> Fraction:
    """A rate from 0 to 1 (`0.8`), kept exact."""
    try:
        value = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"expected a rate such as 0.8, got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a rate from 0 to 1, got {text}")
    return value


def seed(text: str) -> int:
    """A random seed: a whole number of 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("the seed must be 0 or more")
    return value


def block_size(text: str) -> int:
    """Customers per task: a positive multiple of BLOCK."""
    value = at_most(MAX_CUSTOMERS, "customers per task")(text)
    if value % BLOCK:
        raise argparse.ArgumentTypeError(f"the block size must be a multiple of {BLOCK} (2^16), got {value}")
    return value


SCHEDULER_ADDRESS = re.compile(r"^(?:(?:tcp|tls|ucx|ws|wss)://)?\[?[\w.:-]+\]?:\d+$")  # = backends.ADDRESS


def scheduler_address(text: str) -> str:
    """`local` or a Dask scheduler's address (`tcp://HOST:PORT`; `tls://`, or `HOST:PORT`)."""
    if text != "local" and not SCHEDULER_ADDRESS.match(text):
        raise argparse.ArgumentTypeError(f"expected `local` or a scheduler address such as tcp://10.0.0.5:8786, got {text!r}")
    return text


def add_run_options(p: argparse._ActionsContainer, customers: int = 10_000, trials: int = 10) -> None:
    """Add --customers, --months, --trials, --seed, --workers, --scheduler and --block-size to a parser or group."""
    p.add_argument("--customers", type=at_most(MAX_CUSTOMERS, "customers"), default=customers, metavar="N",
                   help=f"customers (default {customers}, at most {MAX_CUSTOMERS:,})")
    p.add_argument("--months", type=at_most(MAX_MONTHS, "months"), default=12, metavar="M",
                   help=f"months to simulate (default 12, at most {MAX_MONTHS:,})")
    p.add_argument("--trials", type=at_most(MAX_TRIALS, "trials"), default=trials, metavar="T",
                   help=f"Monte Carlo trials (default {trials}, at most {MAX_TRIALS:,})")
    p.add_argument("--seed", type=seed, default=0, metavar="S", help="random seed (default 0)")
    p.add_argument("--workers", type=at_most(MAX_WORKERS, "workers"), default=None, metavar="W",
                   help=f"worker processes (default: all cores, at most {MAX_WORKERS})")
    p.add_argument("--scheduler", type=scheduler_address, default=None, metavar="ADDRESS",
                   help="run the tasks on a Dask cluster: `local` starts one on this machine (--workers processes; "
                        "prints the dashboard link), tcp://HOST:8786 connects to a running scheduler (default: this "
                        "machine's process pool; same numbers either way; needs pip install \".[dask]\", see docs/cluster.md)")
    p.add_argument("--block-size", type=block_size, default=None, metavar="B", dest="block_size",
                   help=f"customers per task, a multiple of {BLOCK} (default: up to 4 × {BLOCK}, chosen from "
                        "the population, the workers and the program's memory per customer; results do not depend on it)")


def quiet_progress(stream: TextIO) -> bool:
    """No progress bar on CI ($CI set to 1/true/yes) or when `stream` is not a terminal (piped, a file)."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes") or not stream.isatty()


def progress_printer(stream: TextIO) -> Callable[[int, int], None] | None:
    """A `progress(done, total)` that draws a bar with the tasks done, the elapsed time and the time
    left (ETA) on `stream` (rich, redrawn on each call: no thread to stop); None on CI or off a terminal."""
    if quiet_progress(stream):
        return None
    state: dict[str, object] = {}

    def show(done: int, total: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        bar = state.get("bar")
        if bar is None:
            bar = Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TextColumn("tasks"),
                           TextColumn("elapsed"), TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                           console=Console(file=stream), auto_refresh=False, transient=False)
            bar.start()
            import atexit

            atexit.register(bar.stop)  # a run that fails half-way still gives the cursor back
            state["bar"], state["task"] = bar, bar.add_task("run", total=total)
        bar.update(state["task"], completed=done, total=total)  # type: ignore[union-attr]
        bar.refresh()  # type: ignore[union-attr]
        if done >= total:
            bar.stop()  # type: ignore[union-attr]
            state.clear()

    return show


def load_program(path: str):
    """A program file read and compiled: (IR program or None, its errors, its text, its AST)."""
    from rulelang import compile_source
    from rulelang import load_file

    sf, diags, text = load_file(path)
    program = None
    if sf is not None and not any(d.is_error for d in diags):
        program, more = compile_source(sf)
        diags = list(diags) + [d for d in more if d not in diags]
    return program, [d for d in diags if d.is_error], text, sf
