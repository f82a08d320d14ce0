"""Semantic diff of two programs: what a rule change changes, in words a marketer reads.

Takes: two `ast.Program` values (the old and the new version of one program).
Gives: `ProgramDiff` — the rules, tiers, rewards and settings that were added,
removed or changed, each change field by field ("earn rate on base: 1 → 2 stars
per 1 USD", "tier Gold threshold: 500 → 400 stars"), counts per kind, a one-line
summary and a JSON form. Rules, tiers, rewards, perks, events, attributes and
counters are matched by name (a renamed rule is one removal and one addition);
source positions, comments and formatting never count as changes, because AST
equality leaves spans out. Knows nothing of the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Iterable, Literal, Sequence

from rulelang.syntax import ast
from rulelang.syntax.formatter import expr_to_text, month_day_text, money_text, number_text, ordinal_text, per_text, validity_text
from rulelang.syntax.lifecycle_words import ACTIVITY_WORDS, year_phrase
from rulelang.syntax.nodes import ACTION_TYPES, dispatch
from rulelang.vocabulary import counted, plural, singular

__all__ = ["Change", "FieldChange", "ProgramDiff", "diff_programs"]

ARROW = "→"
Kind = Literal["added", "removed", "changed"]


@dataclass(frozen=True)
class FieldChange:
    """One changed setting: `label: old → new` (None = not set)."""

    label: str
    old: str | None
    new: str | None

    def text(self) -> str:
        old = self.old if self.old is not None else "none"
        new = self.new if self.new is not None else "none"
        head_o, _, rest_o = old.partition(" ")
        head_n, _, rest_n = new.partition(" ")
        if rest_o and head_o != head_n and _same_but_plural(rest_o, rest_n):
            return f"{self.label}: {head_o} {ARROW} {head_n} {rest_n}"
        return f"{self.label}: {old} {ARROW} {new}"

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "old": self.old, "new": self.new, "text": self.text()}


def _same_but_plural(a: str, b: str) -> bool:
    """`star per 1 USD` and `stars per 1 USD` say the same thing after different numbers."""
    wa, _, ra = a.partition(" ")
    wb, _, rb = b.partition(" ")
    return ra == rb and (wa == wb or plural(wa) == wb or plural(wb) == wa)


@dataclass(frozen=True)
class Change:
    """A rule, tier, reward or setting group that was added, removed or changed."""

    kind: Kind
    section: str  # rule | tier | tiers | reward | program | expiry | returns | redemption | event | attribute | counter
    name: str
    summary: str  # one line, e.g. "rule happy_hour added: on purchase when hour < 10, multiply 2x"
    fields: tuple[FieldChange, ...] = ()

    def lines(self) -> list[str]:
        if self.kind != "changed":
            return [self.summary]
        return [f.text() for f in self.fields]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "section": self.section, "name": self.name, "summary": self.summary,
                "fields": [f.to_json() for f in self.fields]}


@dataclass(frozen=True)
class ProgramDiff:
    """Every change from the old program to the new one, in program order."""

    changes: tuple[Change, ...]

    @property
    def is_empty(self) -> bool:
        return not self.changes

    def count(self, section: str, kind: Kind) -> int:
        return sum(1 for c in self.changes if c.section == section and c.kind == kind)

    def other_changes(self) -> int:
        return sum(1 for c in self.changes if c.section not in ("rule", "tier"))

    def summary(self) -> str:
        """`1 rule added, 2 changed, 0 removed` plus tiers and other settings when they changed."""
        text = (f"{self.count('rule', 'added')} {plural('rule', self.count('rule', 'added'))} added, "
                f"{self.count('rule', 'changed')} changed, {self.count('rule', 'removed')} removed")
        tiers = [(k, self.count("tier", k)) for k in ("added", "changed", "removed")]
        if any(n for _, n in tiers):
            text += "; tiers: " + ", ".join(f"{n} {k}" for k, n in tiers if n)
        other = self.other_changes()
        if other:
            text += f"; {other} other {plural('change', other)}"
        return text

    def lines(self) -> list[str]:
        """Marketer-readable lines, one per added / removed item and one per changed field."""
        out: list[str] = []
        for c in self.changes:
            out.extend(c.lines())
        return out

    def to_json(self) -> dict[str, Any]:
        counts = {section: {k: self.count(section, k) for k in ("added", "changed", "removed")}
                  for section in ("rule", "tier")}
        return {"changes": [c.to_json() for c in self.changes], "counts": counts,
                "other_changes": self.other_changes(), "summary": self.summary(), "lines": self.lines()}


# ---------------------------------------------------------------- value texts


def _points(n: Decimal | int, unit: str) -> str:
    """`1 star`, `2 stars`, `1.5 stars` from the program's plural unit word."""
    return f"{number_text(n)} {singular(unit) if n == 1 else unit}"


def _months(n: int | None) -> str:
    n = n or 0
    return counted(n, "month")


def _money(m: ast.Money | None) -> str | None:
    return None if m is None else money_text(m)


def _categories(c: tuple[str, ...]) -> str | None:
    return ", ".join(c) if c else None


def _excluding(categories: tuple[str, ...]) -> str:
    return " excluding category " + ", ".join(f'"{c}"' for c in categories) if categories else ""


class _Texts:
    """Marketer wording for AST parts, in the program's points unit."""

    def __init__(self, unit: str, currency: str):
        self.unit = unit
        self.currency = currency

    def action(self, a: ast.Action) -> str:
        return _ACTION_WORDS(a)(self, a)

    def _award(self, a: ast.Award) -> str:
        if a.per is not None:
            text = f"award {_points(a.points, self.unit)} per {per_text(a.per)}"
            text += f" of {a.base} amount" if isinstance(a.per, ast.Money) else ""
        else:
            text = f"award {_points(a.points, self.unit)}"
        if a.only:
            text += " in category " + ", ".join(f'"{c}"' for c in a.only)
        return text + _excluding(a.excluding) + (f" to {a.to}" if a.to != "customer" else "")

    def _cashback(self, a: ast.Cashback) -> str:
        return f"award {number_text(a.percent)}% of {a.base} amount" + _excluding(a.excluding)

    def _multiply(self, a: ast.Multiply) -> str:
        return f"multiply {number_text(a.factor)}x" + (" in category " + ", ".join(f'"{c}"' for c in a.only)
                                                       if a.only else "")

    def _discount(self, a: ast.Discount) -> str:
        what = f"{number_text(a.percent)}%" if a.percent is not None else _money(a.amount)
        return f"discount {what} of {a.base} amount" + (" in category " + ", ".join(f'"{c}"' for c in a.only)
                                                        if a.only else "") + _excluding(a.excluding)

    def _perk(self, a: ast.Perk) -> str:
        return f"perk {a.name} costing {money_text(a.cost)}"

    def cap(self, c: ast.Cap) -> str:
        if c.unit == "times":
            return f"{counted(c.limit, 'time')} per customer per {c.period}"
        return f"{_points(c.limit, self.unit)} per customer per {c.period}"

    def budget(self, b: ast.Budget | None) -> str | None:
        if b is None:
            return None
        return _money(b.money) if b.money is not None else _points(b.points or 0, self.unit)

    def expiry(self, x: ast.Expiry) -> str:
        u = self.unit
        if x.kind == "never":
            return f"{u} never expire"
        if x.kind == "after_earning":
            return f"{_months(x.months)} after earning" + (" at end of month" if x.end_of_month else "")
        if x.kind == "inactivity":
            return f"after {_months(x.months)} of inactivity"
        if x.kind == "fixed_date":
            return f"on {x.date.isoformat() if x.date else '?'}"
        md = x.month_day or (12, 31)
        return f"yearly on {md[0]:02d}-{md[1]:02d}"

    def expiries(self, xs: tuple[ast.Expiry, ...]) -> str | None:
        return "; ".join(self.expiry(x) for x in xs) if xs else None

    def window(self, w: ast.DateWindow | None) -> str | None:
        return None if w is None else f"{w.start.isoformat()} .. {w.end.isoformat()}"

    def threshold(self, tiers: ast.TierSystem, t: ast.Tier) -> str:
        if t.threshold_money is not None:
            return money_text(t.threshold_money)
        if tiers.metric == "spend":
            return f"{number_text(t.threshold)} {self.currency}"
        if tiers.metric == "points":
            return _points(t.threshold, self.unit)
        if tiers.metric == "purchases":
            return f"{number_text(t.threshold)} {plural('purchase', t.threshold)}"
        return f"{number_text(t.threshold)} {tiers.metric}"

    def tier_window(self, w: ast.TierWindow) -> str:
        if w.kind == "rolling":
            return f"rolling {_months(w.months)}"
        return w.kind.replace("_", " ")

    def rule_summary(self, r: ast.EarnRule) -> str:
        head = f"on {r.event}" + (f" when {expr_to_text(r.condition)}" if r.condition is not None else "")
        parts = [self.action(a) for a in r.actions]
        if r.window is not None:
            parts.append(f"during {self.window(r.window)}")
        parts.extend(("cap " if c.unit == "points" else "limit ") + self.cap(c) for c in r.caps)
        if r.budget is not None:
            parts.append(f"budget {self.budget(r.budget)}")
        if r.every_nth is not None:
            parts.append(f"every {ordinal_text(r.every_nth)} {r.event}")
        return head + (": " + "; ".join(parts) if parts else "")

    def tier_summary(self, tiers: ast.TierSystem, t: ast.Tier) -> str:
        parts = [f"from {self.threshold(tiers, t)}"]
        if t.rate is not None:
            parts.append(_tier_rate_text(t, "points") or "")
        if t.multiplier is not None:
            parts.append(f"multiply {number_text(t.multiplier)}x")
        if t.discount is not None:
            parts.append(f"discount {number_text(t.discount)}%")
        if t.expiry:
            parts.append(f"expiry {self.expiries(t.expiry)}")
        parts.extend(f"perk {p.name} costs {money_text(p.cost)} per {p.per}" for p in t.perks)
        return ", ".join(parts)


# ---------------------------------------------------------------- comparison helpers


def _status_text(ts: ast.TierSystem) -> str:
    if ts.status_through is None:
        return "none"
    then = "one step" if ts.status_drop == "one_step" else "to qualified"
    return f"through {month_day_text(ts.status_through)} {year_phrase(ts.status_years)}, then {then}"


def _tier_rate_text(t: ast.Tier, unit: str) -> str | None:
    if t.rate is None or t.rate_per is None:
        return None
    return f"award {number_text(t.rate)} {unit} per {money_text(t.rate_per)}"


def _activity_text(p: ast.Program) -> str:
    return ", ".join(ACTIVITY_WORDS[k] for k in p.activity) if p.activity else "purchase, any earning event"


def _by_name(items: Iterable[Any]) -> dict[str, Any]:
    return {getattr(i, "name"): i for i in items}


def _keyed(old: Iterable[Any], new: Iterable[Any]) -> list[tuple[str, Any, Any]]:
    """(name, old item or None, new item or None) in old order, then new additions in new order."""
    o, n = _by_name(old), _by_name(new)
    out = [(name, item, n.get(name)) for name, item in o.items()]
    out.extend((name, None, item) for name, item in n.items() if name not in o)
    return out


def _voucher_text(r: ast.Reward) -> str | None:
    """A reward's voucher with a life (`voucher 3 EUR valid 1 year`), or None."""
    if r.voucher is None:
        return None
    return f"voucher {money_text(r.voucher)}" + (f" valid {validity_text(r.valid, r.valid_unit)}" if r.valid else "")


def _field(out: list[FieldChange], label: str, old: Any, new: Any, text: Callable[[Any], str | None] = str) -> None:
    if old != new:
        out.append(FieldChange(label, None if old is None else text(old), None if new is None else text(new)))


class _Differ:
    def __init__(self, old: ast.Program, new: ast.Program):
        self.old, self.new = old, new
        self.t_old = _Texts(old.points_unit, old.currency)
        self.t = _Texts(new.points_unit, new.currency)
        self.changes: list[Change] = []

    def add(self, kind: Kind, section: str, name: str, summary: str, changed: Sequence[FieldChange] = ()) -> None:
        self.changes.append(Change(kind, section, name, summary, tuple(changed)))

    # ------------------------------------------------------------ program header

    def header(self) -> None:
        o, n, out = self.old, self.new, []
        _field(out, "program name", o.name, n.name, lambda s: f'"{s}"')
        _field(out, "points unit", o.points_unit, n.points_unit)
        _field(out, "currency", o.currency, n.currency)
        _field(out, f"cost of one redeemed {_points(1, n.points_unit).split(' ', 1)[1]}", o.point_cost, n.point_cost, _money)
        _field(out, f"value of one {_points(1, n.points_unit).split(' ', 1)[1]} to the customer", o.point_value,
               n.point_value, _money)
        _field(out, "multipliers", o.stacking, n.stacking, lambda s: f"{s} (stacking)")
        _field(out, "default rounding", o.rounding, n.rounding)
        _field(out, "pending period", o.pending_days, n.pending_days, lambda d: counted(d, "day"))
        _field(out, "activity (inactivity expiry)", _activity_text(o), _activity_text(n))
        if out:
            self.add("changed", "program", "program", "program settings changed", out)

    def declarations(self) -> None:
        for section, old_items, new_items, text in (
            ("attribute", self.old.attributes, self.new.attributes, lambda a: f"attribute {a.name}: {a.type}"),
            ("event", self.old.events, self.new.events,
             lambda e: f"event {e.name}" + (" { " + ", ".join(f"{f.name}: {f.type}" for f in e.fields) + " }" if e.fields else "")),
            ("counter", self.old.counters, self.new.counters, self._counter_text),
            ("balance", self.old.balances, self.new.balances,
             lambda b: f'balance "{b.name}"' + ("" if b.redeemable else " not redeemable")),
        ):
            for name, o, n in _keyed(old_items, new_items):
                if o is None:
                    self.add("added", section, name, f"{section} {name} added: {text(n)}")
                elif n is None:
                    self.add("removed", section, name, f"{section} {name} removed (was: {text(o)})")
                elif o != n:
                    self.add("changed", section, name, f"{section} {name} changed",
                             [FieldChange(f"{section} {name}", text(o), text(n))])

    @staticmethod
    def _counter_text(c: ast.CounterDecl) -> str:
        text = f"counts {c.event}" if c.sums is None else f"sums {c.sums} on {c.event}"
        return text + (f" when {expr_to_text(c.condition)}" if c.condition is not None else "")

    # ------------------------------------------------------------ rules

    def rules(self) -> None:
        for name, o, n in _keyed(self.old.rules, self.new.rules):
            if o is None:
                self.add("added", "rule", name, f"rule {name} added: {self.t.rule_summary(n)}")
            elif n is None:
                self.add("removed", "rule", name, f"rule {name} removed (was: {self.t_old.rule_summary(o)})")
            elif o != n:
                self.add("changed", "rule", name, f"rule {name} changed", self.rule_fields(o, n))

    def rule_fields(self, o: ast.EarnRule, n: ast.EarnRule) -> list[FieldChange]:
        name, t, out = n.name, self.t, []
        _field(out, f"event of {name}", o.event, n.event)
        if o.condition != n.condition:
            out.append(FieldChange(f"condition of {name}",
                                   expr_to_text(o.condition) if o.condition is not None else "always",
                                   expr_to_text(n.condition) if n.condition is not None else "always"))
        out.extend(self.actions(name, o.actions, n.actions))
        _field(out, f"rounding of {name}", o.rounding or f"program default ({self.old.rounding})",
               n.rounding or f"program default ({self.new.rounding})")
        _field(out, f"priority of {name}", o.priority, n.priority)
        _field(out, f"exclusive group of {name}", o.group, n.group, lambda g: f'"{g}"')
        _field(out, f"campaign dates of {name}", t.window(o.window), t.window(n.window))
        if o.caps != n.caps:
            out.append(FieldChange(f"cap of {name}", "; ".join(self.t_old.cap(c) for c in o.caps) or None,
                                   "; ".join(t.cap(c) for c in n.caps) or None))
        _field(out, f"budget of {name}", self.t_old.budget(o.budget), t.budget(n.budget))
        _field(out, f"punch card of {name}", o.every_nth, n.every_nth, lambda k: f"every {ordinal_text(k)} {n.event}")
        _field(out, f"streak of {name}", o.streak, n.streak,
               lambda s: counted(s.length, s.period))
        return out

    def actions(self, name: str, old: tuple[ast.Action, ...], new: tuple[ast.Action, ...]) -> list[FieldChange]:
        if old == new:
            return []
        if len(old) != len(new) or any(type(a) is not type(b) for a, b in zip(old, new)):
            return [FieldChange(f"actions of {name}", "; ".join(self.t_old.action(a) for a in old) or None,
                                "; ".join(self.t.action(a) for a in new) or None)]
        out: list[FieldChange] = []
        for a, b in zip(old, new):
            if a != b:
                out.extend(self.action(name, a, b))
        return out

    def action(self, name: str, a: ast.Action, b: ast.Action) -> list[FieldChange]:
        """The changed fields of one action whose type stayed the same."""
        out: list[FieldChange] = []
        _ACTION_CHANGES(a)(self, name, a, b, out)
        return out

    def _award(self, name: str, a: ast.Award, b: ast.Award, out: list[FieldChange]) -> None:
        uo, un = self.old.points_unit, self.new.points_unit
        if (a.per is None) != (b.per is None):
            out.append(FieldChange(f"award of {name}", self.t_old.action(a), self.t.action(b)))
            return
        if a.per is not None and b.per is not None:
            if (a.points, a.per) != (b.points, b.per):
                out.append(FieldChange(f"earn rate on {name}", f"{_points(a.points, uo)} per {per_text(a.per)}",
                                       f"{_points(b.points, un)} per {per_text(b.per)}"))
            _field(out, f"earn base on {name}", a.base, b.base, lambda s: f"{s} amount")
        else:
            _field(out, f"award on {name}", a.points, b.points, lambda p: _points(p, un))
        _field(out, f"lines counted on {name}", a.only or None, b.only or None, _categories)
        _field(out, f"excluded categories on {name}", a.excluding or None, b.excluding or None, _categories)
        _field(out, f"who receives the award of {name}", a.to, b.to)

    def _cashback(self, name: str, a: ast.Cashback, b: ast.Cashback, out: list[FieldChange]) -> None:
        _field(out, f"cashback on {name}", a.percent, b.percent, lambda p: f"{number_text(p)}%")
        _field(out, f"cashback base on {name}", a.base, b.base, lambda s: f"{s} amount")
        _field(out, f"excluded categories on {name}", a.excluding or None, b.excluding or None, _categories)

    def _multiply(self, name: str, a: ast.Multiply, b: ast.Multiply, out: list[FieldChange]) -> None:
        _field(out, f"multiplier on {name}", a.factor, b.factor, lambda f: f"{number_text(f)}x")
        _field(out, f"lines multiplied on {name}", a.only or None, b.only or None, _categories)

    def _discount(self, name: str, a: ast.Discount, b: ast.Discount, out: list[FieldChange]) -> None:
        old = f"{number_text(a.percent)}%" if a.percent is not None else _money(a.amount)
        new = f"{number_text(b.percent)}%" if b.percent is not None else _money(b.amount)
        _field(out, f"discount on {name}", old, new)
        _field(out, f"discount base on {name}", a.base, b.base, lambda s: f"{s} amount")
        _field(out, f"lines discounted on {name}", a.only or None, b.only or None, _categories)
        _field(out, f"excluded categories on {name}", a.excluding or None, b.excluding or None, _categories)

    def _perk(self, name: str, a: ast.Perk, b: ast.Perk, out: list[FieldChange]) -> None:
        _field(out, f"perk of {name}", a.name, b.name)
        _field(out, f"cost of perk {b.name} on {name}", a.cost, b.cost, money_text)

    # ------------------------------------------------------------ tiers

    def tiers(self) -> None:
        o, n = self.old.tiers, self.new.tiers
        if o == n:
            return
        if o is None or n is None:
            kind: Kind = "added" if o is None else "removed"
            ts: ast.TierSystem = n if n is not None else o  # type: ignore[assignment]
            texts = self.t if n is not None else self.t_old
            names = ", ".join(f"{t.name} ({texts.threshold(ts, t)})" for t in ts.tiers)
            by = self.new.points_unit if ts.metric == "points" and n is not None else ts.metric
            self.add(kind, "tiers", "tiers", f"tier system {kind}: by {by} over {texts.tier_window(ts.window)}: {names}")
            for t in ts.tiers:
                self.add(kind, "tier", t.name, f"tier {t.name} {kind}: {texts.tier_summary(ts, t)}")
            return
        out: list[FieldChange] = []
        _field(out, "tier qualification", o.metric, n.metric, lambda m: f"by {m}")
        _field(out, "tier window", self.t_old.tier_window(o.window), self.t.tier_window(n.window))
        _field(out, "tier review", o.review, n.review)
        _field(out, "tier downgrade", o.downgrade, n.downgrade, lambda d: d.replace("_", " "))
        _field(out, "tier grace period", o.grace_months, n.grace_months, _months)
        _field(out, "tier status validity", o.validity_months, n.validity_months, _months)
        _field(out, "tier status date", _status_text(o), _status_text(n))
        if out:
            self.add("changed", "tiers", "tiers", "tier system changed", out)
        for name, a, b in _keyed(o.tiers, n.tiers):
            if a is None:
                self.add("added", "tier", name, f"tier {name} added: {self.t.tier_summary(n, b)}")
            elif b is None:
                self.add("removed", "tier", name, f"tier {name} removed (was: {self.t_old.tier_summary(o, a)})")
            elif a != b or (o.metric != n.metric and self.t_old.threshold(o, a) != self.t.threshold(n, b)):
                fields_ = self.tier_fields(o, n, a, b)
                if fields_:
                    self.add("changed", "tier", name, f"tier {name} changed", fields_)

    def tier_fields(self, so: ast.TierSystem, sn: ast.TierSystem, a: ast.Tier, b: ast.Tier) -> list[FieldChange]:
        name, out = b.name, []
        _field(out, f"tier {name} threshold", self.t_old.threshold(so, a), self.t.threshold(sn, b))
        _field(out, f"tier {name} multiplier", a.multiplier, b.multiplier, lambda f: f"{number_text(f)}x")
        _field(out, f"tier {name} earn rate", _tier_rate_text(a, self.old.points_unit),
               _tier_rate_text(b, self.new.points_unit))
        _field(out, f"tier {name} discount", a.discount, b.discount, lambda p: f"{number_text(p)}%")
        _field(out, f"tier {name} expiry", self.t_old.expiries(a.expiry) or "program expiry",
               self.t.expiries(b.expiry) or "program expiry")
        for perk, p, q in _keyed(a.perks, b.perks):
            if p is None:
                out.append(FieldChange(f"tier {name} perk {perk}", None, f"costs {money_text(q.cost)} per {q.per}"))
            elif q is None:
                out.append(FieldChange(f"tier {name} perk {perk}", f"costs {money_text(p.cost)} per {p.per}", None))
            elif p != q:
                out.append(FieldChange(f"tier {name} perk {perk} cost", f"{money_text(p.cost)} per {p.per}",
                                       f"{money_text(q.cost)} per {q.per}"))
        return out

    # ------------------------------------------------------------ lifecycle and redemption

    def lifecycle(self) -> None:
        o, n = self.old, self.new
        if o.expiry != n.expiry:
            self.add("changed", "expiry", "expiry", "expiry changed",
                     [FieldChange(f"{n.points_unit} expire", self.t_old.expiries(o.expiry) or "never",
                                  self.t.expiries(n.expiry) or "never")])
        if o.returns != n.returns:
            def text(r: ast.ReturnPolicy | None) -> str:
                if r is None:
                    return "returns reverse nothing"
                return ("returns reverse earned points" if r.reverse else "returns reverse nothing") + \
                    f", negative balance {r.negative_balance}"
            self.add("changed", "returns", "returns", "returns changed",
                     [FieldChange("returns", text(o.returns), text(n.returns))])

    def rewards(self) -> None:
        for name, o, n in _keyed(self.old.rewards, self.new.rewards):
            if o is None:
                self.add("added", "reward", name, f"reward {name} added: {self._reward_text(n, self.new.points_unit)}")
            elif n is None:
                self.add("removed", "reward", name,
                         f"reward {name} removed (was: {self._reward_text(o, self.old.points_unit)})")
            elif o != n:
                out: list[FieldChange] = []
                _field(out, f"reward {name} price", _points(o.price, self.old.points_unit),
                       _points(n.price, self.new.points_unit))
                _field(out, f"reward {name} worth to the customer", o.worth, n.worth, money_text)
                _field(out, f"reward {name} cost to us", o.cost, n.cost, money_text)
                _field(out, f"reward {name} voucher", _voucher_text(o), _voucher_text(n))
                self.add("changed", "reward", name, f"reward {name} changed", out)

    @staticmethod
    def _reward_text(r: ast.Reward, unit: str) -> str:
        text = f"price {_points(r.price, unit)}"
        if r.worth is not None:
            text += f", worth {money_text(r.worth)}"
        if r.cost is not None:
            text += f", costs us {money_text(r.cost)}"
        if r.voucher is not None:
            text += f", {_voucher_text(r)}"
        return text

    def redemption(self) -> None:
        o, n = self.old.pay_with_points, self.new.pay_with_points
        if o != n:
            def pay(p: ast.PayWithPoints) -> str:
                return (f"{_points(p.points, self.new.points_unit)} = {money_text(p.money)}, minimum balance "
                        f"{p.minimum_balance}, at most {number_text(p.max_share)}% of basket")
            out: list[FieldChange] = []
            if o is None or n is None:
                out.append(FieldChange("pay with points", None if o is None else pay(o), None if n is None else pay(n)))
            else:
                _field(out, "pay with points rate", f"{_points(o.points, self.old.points_unit)} = {money_text(o.money)}",
                       f"{_points(n.points, self.new.points_unit)} = {money_text(n.money)}")
                _field(out, "pay with points minimum balance", o.minimum_balance, n.minimum_balance,
                       lambda b: _points(b, self.new.points_unit))
                _field(out, "pay with points share of basket", o.max_share, n.max_share, lambda s: f"{number_text(s)}%")
            kind: Kind = "added" if o is None else "removed" if n is None else "changed"
            self.add(kind, "redemption", "pay_with_points",
                     f"pay with points {kind}" + (f": {pay(n)}" if kind == "added" and n is not None else ""), out)
        co, cn = self.old.conversion, self.new.conversion
        if co != cn:
            def conv(c: ast.Conversion) -> str:
                when = ", ".join(c.months) if c.period == "months" else c.period
                valid = f" valid {c.valid} {c.valid_unit}" if c.valid is not None else ""
                return (f"every {_points(c.points, self.new.points_unit)} into a {money_text(c.voucher)} voucher"
                        f"{valid} at end of {when}")
            kind = "added" if co is None else "removed" if cn is None else "changed"
            self.add(kind, "redemption", "conversion", f"voucher conversion {kind}",
                     [FieldChange("voucher conversion", None if co is None else conv(co), None if cn is None else conv(cn))])

    def run(self) -> ProgramDiff:
        self.header()
        self.declarations()
        self.rules()
        self.tiers()
        self.lifecycle()
        self.rewards()
        self.redemption()
        return ProgramDiff(tuple(self.changes))


#: How each action is worded, and how a change of each is worded (one entry per action type).
_ACTION_WORDS = dispatch("diff: action wording", {
    ast.Award: _Texts._award, ast.Cashback: _Texts._cashback, ast.Multiply: _Texts._multiply,
    ast.Discount: _Texts._discount, ast.Perk: _Texts._perk,
}, ACTION_TYPES)
_ACTION_CHANGES = dispatch("diff: action changes", {
    ast.Award: _Differ._award, ast.Cashback: _Differ._cashback, ast.Multiply: _Differ._multiply,
    ast.Discount: _Differ._discount, ast.Perk: _Differ._perk,
}, ACTION_TYPES)


def diff_programs(old: ast.Program, new: ast.Program) -> ProgramDiff:
    """What changed from `old` to `new`, by name, field by field (spans and comments ignored)."""
    if old == new:
        return ProgramDiff(())
    return _Differ(old, new).run()
