"""Terminal tables that fit the width: the `loyalty simulate` summary, drawn with rich.

Takes: column groups (e.g. program, baseline, difference) and rows whose cells are already formatted
as three pieces — the mean, the range of outcomes (`p5..p95`) and the Monte Carlo precision (`±h`) —
and the width to fit (`terminal_width()`: $COLUMNS, else the terminal's, else 160 when piped).
Gives: `fit_table(groups, rows, width)`, plain text of the widest layout that fits:
- wide: per group three columns, the mean, "range of outcomes", "± MC precision" (one no row fills is left out);
- medium: per group one column, `mean [p5..p95] ±h`;
- narrow: the first and last groups only, each cell on two lines (`mean ±h` over `[p5..p95]`);
  the left-out groups are named under the table.
No colour and no glyph beyond ASCII and the ± sign, so logs and pipes read the same.
"""

from __future__ import annotations

import io
import shutil
from typing import Sequence

Cell = tuple[str, str, str]  # mean, range of outcomes, ± Monte Carlo precision ("" when not shown)
Row = tuple[str, Sequence[Cell | None]]  # label, one cell per group (None: no such figure)


def terminal_width(default: int = 160) -> int:
    """Columns to fit: $COLUMNS, else the terminal's, else `default` (a pipe or a file)."""
    return shutil.get_terminal_size((default, 24)).columns


def _render(table, width: int) -> str:
    from rich.console import Console

    buf = io.StringIO()
    Console(file=buf, width=width, color_system=None, force_terminal=False, legacy_windows=False,
            emoji=False, highlight=False, soft_wrap=False).print(table)
    return "\n".join(line.rstrip() for line in buf.getvalue().splitlines())


def _table(headers: list[str], rows: list[list[str]], left: int = 1):
    from rich import box
    from rich.table import Table

    t = Table(box=box.Box("    \n    \n -- \n    \n    \n    \n    \n    \n", ascii=True), show_edge=False, pad_edge=False, header_style="", padding=(0, 1))
    for i, h in enumerate(headers):
        t.add_column(h, justify="left" if i < left else "right", no_wrap=True, overflow="fold")
    for r in rows:
        t.add_row(*r)
    return t


def _width(table) -> int:
    from rich.console import Console

    console = Console(file=io.StringIO(), width=10_000, color_system=None)
    return console.measure(table).maximum


def _joined(c: Cell | None) -> str:
    if c is None:
        return ""
    mean, rng, pm = c
    return mean + (f" [{rng}]" if rng else "") + (f" {pm}" if pm else "")


def layouts(groups: Sequence[str], rows: Sequence[Row]) -> list[tuple[str, object, list[str]]]:
    """(name, rich table, groups left out) of each layout, widest first."""
    wide_h = ["metric"]
    shown: list[tuple[int, int]] = []  # (group, part) columns of the wide layout; a part no row has is left out
    for gi, g in enumerate(groups):
        for part, head in enumerate((g, "range of outcomes", "± MC precision")):
            if part == 0 or any(cells[gi] is not None and cells[gi][part] for _, cells in rows):
                wide_h.append(head)
                shown.append((gi, part))
    wide = [[label] + [(cells[gi] or ("", "", ""))[part] for gi, part in shown] for label, cells in rows]
    medium = [[label] + [_joined(c) for c in cells] for label, cells in rows]
    keep = [0, len(groups) - 1] if len(groups) > 2 else list(range(len(groups)))
    narrow = []
    for label, cells in rows:
        out = [label]
        for i in keep:
            c = cells[i]
            out.append("" if c is None else (c[0] + (f" {c[2]}" if c[2] else "") + (f"\n[{c[1]}]" if c[1] else "")))
        narrow.append(out)
    dropped = [g for i, g in enumerate(groups) if i not in keep]
    return [("wide", _table(wide_h, wide), []), ("medium", _table(["metric", *groups], medium), []),
            ("narrow", _table(["metric", *[groups[i] for i in keep]], narrow), dropped)]


def fit_table(groups: Sequence[str], rows: Sequence[Row], width: int) -> str:
    """The widest layout of `rows` that fits in `width` columns (the narrow one when none does)."""
    options = layouts(groups, rows)
    for name, table, dropped in options:
        if _width(table) <= width or name == "narrow":
            text = _render(table, max(width, _width(table)) if name == "narrow" else width)
            if dropped:
                text += f"\n({', '.join(dropped)} left out: widen the terminal, or see --format json or --out)"
            return text
    raise AssertionError("unreachable: the narrow layout is always taken")
