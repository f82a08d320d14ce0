"""Node declarations: each AST node type declared once, with how both forms spell it.

Takes: the AST dataclasses (`rulelang.syntax.ast`), whose fields and defaults are the
declaration of what a node holds. Gives: `NODES`, one `NodeDecl` per AST node type: the
word the text form begins it with (`keyword`), the key the YAML form holds it under
(`yaml_key`), the YAML key of each of its fields (`yaml_fields`), where the JSON Schema
describes its keys (`schema_path`), and its fields with their defaults (`fields`,
`defaults`). `UnhandledNode` is what a reader or writer raises for a node type it has no
handler for; `dispatch` builds such a handler table. Tests check every reader and writer,
the grammar's statement words and the JSON Schema against these declarations.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, TypeVar

from rulelang.syntax import ast

__all__ = ["NodeDecl", "NODES", "EXPECT_POINTS", "EXPECT_VOUCHERS", "EXPECT_VOUCHER_MONEY", "NODE_TYPES", "EXPRESSION_TYPES", "ACTION_TYPES", "UnhandledNode", "dispatch", "declaration"]


class UnhandledNode(TypeError):
    """A reader or writer met a node type it has no handler for (a bug, found by tests)."""

    def __init__(self, where: str, node: object) -> None:
        super().__init__(f"{where}: no handler for AST node {type(node).__name__}")
        self.node = node


@dataclass(frozen=True)
class NodeDecl:
    """How one AST node type is spelled in the text and YAML forms."""

    node: type
    keyword: str | None = None  # the statement word of the text form; None for values and expressions
    yaml_key: str | None = None  # the key that holds it in the YAML form; None where it has none of its own
    yaml_fields: Mapping[str, str] = field(default_factory=dict)  # AST field -> YAML key of its own
    schema_path: tuple[str, ...] | None = None  # property names from the schema root to its keys
    extra_keys: tuple[str, ...] | None = None  # the keys of its YAML mapping when they are not just `yaml_fields`

    @property
    def yaml_keys(self) -> tuple[str, ...]:
        """The keys its YAML mapping accepts, in canonical order (docs/yaml.md)."""
        if self.extra_keys is not None:
            return self.extra_keys
        return tuple(dict.fromkeys(self.yaml_fields.values()))

    @property
    def fields(self) -> tuple[dataclasses.Field[Any], ...]:
        """The node's fields (the source span left out), in declaration order."""
        return tuple(f for f in dataclasses.fields(self.node) if f.name != "span")

    @property
    def defaults(self) -> dict[str, object]:
        """Field -> default, for the fields that have one (a writer leaves those values out)."""
        out: dict[str, object] = {}
        for f in self.fields:
            if f.default is not dataclasses.MISSING:
                out[f.name] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                out[f.name] = f.default_factory()
        return out


_RULE = ("program", "rules", "*")
_ACTION = _RULE + ("actions", "[]")
_TIERS = ("program", "tiers")
_TEST = ("tests", "[]")

#: `expect` keys that take a number of points.
EXPECT_POINTS = ("earned", "balance", "available", "pending", "redeemed", "expired", "reversed")
#: `expect` keys that take a number of vouchers (`expect vouchers issued 2 used 1`), and the money one.
EXPECT_VOUCHERS = ("vouchers_issued", "vouchers_used", "vouchers_expired", "vouchers_outstanding")
EXPECT_VOUCHER_MONEY = "voucher_balance"

_DECLS = (
    # values and expressions: written inside statements, no word or key of their own
    NodeDecl(ast.Money),
    NodeDecl(ast.Quantity),
    NodeDecl(ast.Literal),
    NodeDecl(ast.Ref),
    NodeDecl(ast.Compare),
    NodeDecl(ast.InList, "in"),
    NodeDecl(ast.BoolOp),
    NodeDecl(ast.Not, "not"),
    NodeDecl(ast.AnyLine, "any"),
    # rule parts
    NodeDecl(ast.Award, "award", "award",
             {"points": "points", "unit": "unit", "per": "per", "base": "of", "excluding": "excluding", "to": "to",
              "only": "in"},
             _ACTION + ("award",), ("points", "percent", "unit", "per", "of", "in", "excluding", "to")),  # and cashback's
    NodeDecl(ast.Cashback, "award", "award", {"percent": "percent", "base": "of", "excluding": "excluding"}),  # in Award's mapping
    NodeDecl(ast.Multiply, "multiply", "multiply", {"factor": "factor", "only": "in"}, None),
    NodeDecl(ast.Discount, "discount", "discount",
             {"percent": "percent", "amount": "amount", "base": "of", "only": "in", "excluding": "excluding"},
             _ACTION + ("discount",)),
    NodeDecl(ast.Perk, "perk", "perk", {"name": "name", "cost": "costs"}, _ACTION + ("perk",)),
    NodeDecl(ast.Cap, "cap", "cap", {"period": "per"}, _RULE + ("cap",), ("points", "times", "per")),  # or `limit`
    NodeDecl(ast.Budget, "budget", "budget"),
    NodeDecl(ast.DateWindow, "during", "during", {"start": "from", "end": "to"}, _RULE + ("during",)),
    NodeDecl(ast.Streak, "streak", "streak"),
    NodeDecl(ast.EarnRule, "earn", "rules",
             {"event": "on", "condition": "when", "actions": "actions", "rounding": "round", "priority": "priority",
              "group": "group", "window": "during", "caps": "cap", "budget": "budget", "every_nth": "every",
              "streak": "streak"}, _RULE,
             ("on", "when", "actions", "round", "priority", "group", "during", "cap", "limit", "budget", "every", "streak")),
    # declarations
    NodeDecl(ast.FieldDecl, "attribute", "attributes"),
    NodeDecl(ast.LineAttributeDecl, "line", "line_attributes"),
    NodeDecl(ast.EventDecl, "event", "events"),
    NodeDecl(ast.CounterDecl, "counter", "counters", {"event": "on", "sums": "sums", "condition": "when"},
             ("program", "counters", "*")),
    # tiers
    NodeDecl(ast.TierPerk, "perk", "perks", {"name": "name", "cost": "costs", "per": "per"},
             _TIERS + ("levels", "*", "perks", "[]")),
    NodeDecl(ast.Expiry, "expire", "expire", {"end_of_month": "at_end_of_month", "date": "on", "month_day": "yearly_on",
                                              "unit": "unit"},
             ("program", "expire", "[]"), ("after_earning", "at_end_of_month", "inactivity", "on", "yearly_on", "unit")),
    NodeDecl(ast.Tier, "tier", "levels",
             {"threshold": "from", "multiplier": "multiply", "discount": "discount", "expiry": "expire",
              "perks": "perks", "rate": "award", "rate_per": "award"}, _TIERS + ("levels", "*")),
    NodeDecl(ast.TierWindow, None, "over"),
    NodeDecl(ast.TierSystem, "tiers", "tiers",
             {"metric": "by", "window": "over", "tiers": "levels", "review": "review", "downgrade": "downgrade",
              "grace_months": "grace", "validity_months": "valid", "spend_basis": "spend",
              "on_return": "on_return", "status_through": "status",
              "status_years": "status", "status_drop": "status"}, _TIERS),
    NodeDecl(ast.Balance, "balance", "balances", {"redeemable": "redeemable"}, ("program", "balances", "*")),
    # redemption and lifecycle
    NodeDecl(ast.Reward, "reward", "rewards", {"price": "price", "worth": "worth", "cost": "costs_us",
                                               "voucher": "voucher", "valid": "valid", "valid_unit": "valid",
                                               "unit": "unit"},
             ("program", "rewards", "*")),
    NodeDecl(ast.PayWithPoints, "pay", "pay_with_points",
             {"points": "points", "money": "worth", "minimum_balance": "minimum_balance", "max_share": "at_most",
              "unit": "unit"},
             ("program", "pay_with_points")),
    NodeDecl(ast.Conversion, "convert", "convert", {"points": "every", "voucher": "into", "period": "at_end_of",
                                                  "months": "at_end_of", "valid": "valid", "valid_unit": "valid",
                                                  "unit": "unit"},
             ("program", "convert")),
    NodeDecl(ast.ReturnPolicy, "returns", "returns", {"reverse": "reverse", "negative_balance": "negative_balance",
                                                      "lower_metrics": "lower_metrics"},
             ("program", "returns")),
    # tests
    NodeDecl(ast.Given, "given", "given", {}, _TEST + ("given",),
             ("tier", "balance", "attribute", "attributes", "purchases", "spend", "points", "birthday", "counter",
              "counters")),  # any other key is a tier metric (`nights: 4`)
    NodeDecl(ast.EventSpec, "when", "when", {"amount": "amount", "at": "on", "lines": "lines"}, _TEST + ("when", "[]")),
    NodeDecl(ast.LineSpec, None, "lines", {"amount": "amount"}, None),  # a purchase's lines, in `when`
    NodeDecl(ast.Expect, "expect", "expect", {}, _TEST + ("expect",), EXPECT_POINTS + ("tier", "discount", "cost", "fired", "not_fired", "counter", "metric", "spend", "points", "purchases", "event")
             + EXPECT_VOUCHERS + (EXPECT_VOUCHER_MONEY,)),
             # any other key is the tier metric under a counter's name (`nights: 4`)
    NodeDecl(ast.TestCase, "test", "tests",
             {"name": "name", "givens": "given", "events": "when", "until": "until", "expects": "expect"}, _TEST),
    # files
    NodeDecl(ast.Comment),
    NodeDecl(ast.Program, "program", "program",
             {"name": "name", "points_unit": "points", "currency": "currency", "balances": "balances", "point_cost": "point_cost",
              "point_value": "point_value", "stacking": "multipliers", "rounding": "round", "pending_days": "pending",
              "attributes": "attributes", "line_attributes": "line_attributes", "events": "events", "counters": "counters", "rules": "rules",
              "tiers": "tiers", "expiry": "expire", "returns": "returns", "rewards": "rewards",
              "pay_with_points": "pay_with_points", "conversion": "convert", "activity": "activity"}, ("program",)),
    NodeDecl(ast.SourceFile, None, None, {"program": "program", "tests": "tests"}, ()),
)

#: Every AST node type -> its declaration.
NODES: dict[type, NodeDecl] = {d.node: d for d in _DECLS}

#: Every AST node type, in declaration order.
NODE_TYPES: tuple[type, ...] = tuple(NODES)

#: The node types of a condition and of a rule's actions (the unions `ast.Expr`, `ast.Action`).
EXPRESSION_TYPES: tuple[type, ...] = ast.Expr.__args__  # type: ignore[attr-defined]
ACTION_TYPES: tuple[type, ...] = ast.Action.__args__  # type: ignore[attr-defined]


def declaration(node_type: type) -> NodeDecl:
    return NODES[node_type]


H = TypeVar("H", bound=Callable[..., Any])


def dispatch(where: str, handlers: Mapping[type, H], expected: tuple[type, ...]) -> Callable[[object], H]:
    """A lookup from a node to its handler. The table must cover exactly `expected` (checked
    here, at import, so a node type added to a union without a handler fails every test);
    a node of another type raises `UnhandledNode`."""
    missing = [t.__name__ for t in expected if t not in handlers]
    extra = [t.__name__ for t in handlers if t not in expected]
    if missing or extra:
        raise TypeError(f"{where}: the handler table misses {missing} and has {extra} beyond the union")
    table = dict(handlers)

    def handler(node: object) -> H:
        try:
            return table[type(node)]
        except KeyError:
            raise UnhandledNode(where, node) from None

    return handler
