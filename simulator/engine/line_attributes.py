"""The product attributes of simulated lines (`line attribute brand: string`, docs/simulator.md).

Takes: the program's line attributes that its conditions read (`attributes_read`), the
population's segments (each category's `attributes` of its `lines` model) and the string table.
Gives: `AttributeTables`, per attribute the (segments, categories, values) cumulative shares and
values in the engine's representation (a string's code, a bool, a number as float64, money in
integer cents), and `draw`, which picks one value per line slot from one uniform per slot of the
block's line stream (stream 5), after the lines' own draws; a category without a model for the
attribute gives its default (no text, false, 0: `rulelang.ir.LINE_ATTRIBUTE_DEFAULTS`). Data keys
`lines.attr.NAME` hold the (buyers, L) arrays. In a program that declares line attributes, a population attribute it does
not declare, or a value that is not of the declared type, is RL258, located in the population file.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction

import numpy as np

from rulelang import ir
from rulelang.diagnostics import Diagnostic, did_you_mean
from simulator.model.population import Population
from simulator.model.strings import StringTable

__all__ = ["AttributeTables", "KEY", "attributes_read", "check_population_attributes", "default_value",
           "engine_value", "POPULATION_ATTRIBUTE"]

KEY = "lines.attr."  # data key prefix of a line attribute's (buyers, L) array
POPULATION_ATTRIBUTE = "RL258"  # a population's line attribute that does not fit the program


def attributes_read(program: ir.Program) -> tuple[tuple[str, str], ...]:
    """The program's line attributes its `any line` conditions read (rules and counters), in
    declaration order: only these are drawn."""
    names: set[str] = set()

    def walk(expr: ir.Expr | None, inside: bool) -> None:
        if expr is None:
            return
        if isinstance(expr, ir.Field) and inside:
            names.add(expr.name)
        elif isinstance(expr, ir.Cmp):
            walk(expr.left, inside)
            walk(expr.right, inside)
        elif isinstance(expr, ir.InSet):
            walk(expr.left, inside)
        elif isinstance(expr, (ir.And, ir.Or)):
            for item in expr.items:
                walk(item, inside)
        elif isinstance(expr, ir.Not):
            walk(expr.item, inside)
        elif isinstance(expr, ir.AnyLine):
            walk(expr.item, True)

    for rule in program.rules:
        walk(rule.condition, False)
    for counter in program.counters:
        walk(counter.condition, False)
    return tuple((n, t) for n, t in program.line_attributes if n in names)


def default_value(vtype: str, strings: StringTable) -> object:
    """What a line that does not give the attribute reads, in the engine's representation."""
    if vtype == "string":
        return strings.code("")
    return {"bool": False, "number": 0.0, "money": 0}[vtype]


def engine_value(text: str, vtype: str, strings: StringTable) -> object | None:
    """A population's value as written, in the engine's representation (None: not of the type)."""
    if vtype == "string":
        return strings.code(text)
    if vtype == "bool":
        return {"true": True, "false": False}.get(text)
    try:
        number = Decimal(text.replace("_", ""))
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite():
        return None
    if vtype == "money":
        cents = number * 100
        return int(cents) if cents == cents.to_integral_value() else None
    return float(Fraction(number))


_TYPE_WORDS = {"bool": "true or false", "number": "a number such as 2.5", "money": "an amount such as 1.99"}


def check_population_attributes(program: ir.Program, pop: Population, strings: StringTable | None = None) -> list[Diagnostic]:
    """RL258 for each population line attribute the program does not declare and each value that is
    not of the declared type; nothing for a program that declares none (it reads none: they are not
    drawn, as a program compared with one that reads them)."""
    declared = dict(program.line_attributes)
    if not declared:  # a program without line attributes reads none: the population's are not drawn
        return []
    strings = strings or StringTable()
    out: list[Diagnostic] = []
    for seg in pop.segments:
        if seg.lines is None:
            continue
        for cat, models in zip(seg.lines.categories, seg.lines.attributes):
            for m in models:
                if m.name not in declared:
                    hint = did_you_mean(m.name, list(declared)) or (
                        "the program's line attributes: " + ", ".join(declared))
                    out.append(Diagnostic(POPULATION_ATTRIBUTE, "error", f"segment `{seg.name}`, category `{cat}`: "
                                          f"the program has no line attribute `{m.name}`", m.span, hint))
                    continue
                vtype = declared[m.name]
                for value, span in zip(m.values, m.value_spans or (m.span,) * len(m.values)):
                    if vtype != "string" and engine_value(value, vtype, strings) is None:
                        out.append(Diagnostic(POPULATION_ATTRIBUTE, "error",
                                              f"`{value}` is not a {vtype} value of line attribute `{m.name}`", span,
                                              f"`{m.name}` is declared `{vtype}`: write {_TYPE_WORDS[vtype]}"))
    return out


@dataclass(frozen=True)
class AttributeTables:
    names: tuple[str, ...]
    types: tuple[str, ...]
    cum: tuple[np.ndarray, ...]  # per attribute: (segments, C, V) cumulative shares (1 beyond the values)
    values: tuple[np.ndarray, ...]  # per attribute: (segments, C, V) values
    has: tuple[np.ndarray, ...]  # per attribute: (segments, C) the category gives the attribute
    defaults: tuple[object, ...]

    @classmethod
    def of(cls, pop: Population, strings: StringTable, read: tuple[tuple[str, str], ...]) -> "AttributeTables":
        n = len(pop.segments)
        width = max((len(s.lines.categories) for s in pop.segments if s.lines), default=1)
        cums, vals, hass, defaults = [], [], [], []
        for name, vtype in read:
            depth = max((len(m.values) for s in pop.segments if s.lines for ms in s.lines.attributes for m in ms
                         if m.name == name), default=1)
            default = default_value(vtype, strings)
            dtype = {"string": np.int64, "bool": bool, "number": np.float64, "money": np.int64}[vtype]
            cum, values = np.ones((n, width, depth)), np.full((n, width, depth), default, dtype=dtype)
            has = np.zeros((n, width), bool)
            for i, s in enumerate(pop.segments):
                if s.lines is None:
                    continue
                for c, models in enumerate(s.lines.attributes):
                    for m in models:
                        if m.name != name:
                            continue
                        k = len(m.values)
                        has[i, c] = True
                        cum[i, c, :k] = np.cumsum(m.shares)
                        cum[i, c, k - 1:] = 1.0
                        got = [engine_value(v, vtype, strings) for v in m.values]
                        values[i, c, :k] = [default if g is None else g for g in got]
                        values[i, c, k:] = values[i, c, k - 1]
            cums.append(cum)
            vals.append(values)
            hass.append(has)
            defaults.append(default)
        return cls(tuple(n for n, _ in read), tuple(t for _, t in read), tuple(cums), tuple(vals), tuple(hass),
                   tuple(defaults))

    def draw(self, rng: np.random.Generator, sg: np.ndarray, pick: np.ndarray, out: dict[str, np.ndarray],
             lo: int, hi: int) -> None:
        """One block's draws: per attribute (declaration order), one uniform per line slot of the
        block's `pick` (the slots' category indexes, (buyers, w)); into `out[KEY + name][lo:hi, :w]`."""
        w = pick.shape[1]
        for name, cum, values, has in zip(self.names, self.cum, self.values, self.has):
            u = rng.random((hi - lo, w))
            cums = cum[sg[:, None], pick]  # (buyers, w, V)
            idx = np.minimum((u[:, :, None] >= cums).sum(axis=2), cum.shape[2] - 1)
            got = values[sg[:, None], pick, idx]
            out[KEY + name][lo:hi, :w] = np.where(has[sg[:, None], pick], got, out[KEY + name][lo:hi, :w])
