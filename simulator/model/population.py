"""Population files: who the simulated customers are, and the program's economics.

Takes: a population YAML file (see `simulator/model/populations/default.yaml`, every key
documented there). Gives: a frozen `Population` (segments with shares and latent
trait distributions, behavioural `Response` parameters, `Economics`), or located
`Diagnostic`s (RL6xx) for bad input — never a traceback.

Time unit: every rate is per week (`time_unit: week`, the unit of the CDNOW
estimates); `day` and `month` (= 30.4375 days) are accepted and converted.

Latent traits per customer (drawn in `simulator.model.draws`):
- BG/NBD (default): purchase rate λ ~ Gamma(r, rate α) per week, dropout p ~ Beta(a, b)
  applied after each purchase (Fader, Hardie & Lee 2005).
- Pareto/NBD (`model: pareto_nbd`): λ as above, lifetime τ ~ Exp(μ), μ ~ Gamma(s, rate β).
- Spend per purchase (gamma-gamma): z ~ Gamma(p, rate ν), ν ~ Gamma(q, rate γ), so the
  population mean spend is pγ/(q−1) currency units (Fader, Hardie & Lee 2005, JMR).
- Category and channel of each purchase from the segment's mix; items per purchase
  1 + Poisson(items − 1); its `quantity` (litres, nights, units) Poisson(quantity), drawn
  only for a program that reads it (simulator.engine.day_loop); birthday (a known one with probability `birthday_known`);
  enrollment day; propensity to redeem; referral intents per week; custom-event rates.
- Returns (`returns:` per segment): each purchase is returned with probability `rate`;
  the returned part of the basket is `fraction` of its amount (1 = the whole basket, the
  default; a choice such as `{0.5: 0.3, 1: 0.7}` mixes partial and full returns), rounded
  down to the cent (at least 1 cent); the return happens `delay_days` days after the
  purchase (uniform whole days between `min` and `max`, at least 1; default 1..30).
  Default rate 0. Typical rates: fashion e-commerce 20–30 % of purchases, general retail
  5–10 %, grocery and coffee about 1 % (industry return surveys).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rulelang import limits
from rulelang.diagnostics import NO_SPAN, Diagnostic, DiagnosticBag, RulelangError, Span

from simulator.model.history_model import AgeModel, ParameterUncertainty, parse_age, parse_uncertainty
from simulator.model.yaml_reading import Reader, compose, plain, scalar_value

DEFAULT_POPULATION = Path(__file__).with_name("populations") / "default.yaml"
DAYS_PER_UNIT = {"day": 1.0, "week": 7.0, "month": 30.4375}


class PopulationError(RulelangError):
    """A population file could not be loaded; carries located diagnostics."""


@dataclass(frozen=True)
class Choice:
    """A discrete distribution: values with probabilities (summing to 1)."""

    values: tuple[Any, ...]
    weights: tuple[float, ...]


@dataclass(frozen=True)
class LineModel:
    """A segment's baskets with lines: 1 + Poisson(per_purchase − 1) lines per purchase (at most
    `MAX_LINES`), each of a category drawn by `shares`; the basket's amount (less shipping) split
    over its lines in proportion to the categories' `amounts` weights; a line's quantity
    Poisson(its category's mean quantity)."""

    per_purchase: float
    categories: tuple[str, ...]
    shares: tuple[float, ...]
    amounts: tuple[float, ...]
    quantities: tuple[float, ...]
    # per category: its lines' product attributes, each drawn by its shares (`attributes: {brand:
    # {Own: 0.3, Other: 0.7}}`); drawn only for a program that reads them (simulator.engine.line_draws)
    attributes: tuple[tuple["AttributeModel", ...], ...] = ()


@dataclass(frozen=True)
class AttributeModel:
    """One line attribute of a category's lines: its values as written (`Own`, `true`, `2.50`),
    read by the type the program declares (simulator.engine.line_draws), with their shares."""

    name: str
    values: tuple[str, ...]
    shares: tuple[float, ...]
    span: Span = field(default=NO_SPAN, compare=False)  # where the population gives it
    value_spans: tuple[Span, ...] = field(default=(), compare=False)


MAX_LINES = 12  # lines of one simulated purchase


@dataclass(frozen=True)
class CustomEventModel:
    rate_per_day: float
    fields: tuple[tuple[str, Choice], ...] = ()


@dataclass(frozen=True)
class ReturnModel:
    """How a segment returns purchases (see the module docstring)."""

    rate: float = 0.0  # probability that a purchase is returned
    fraction: Choice = Choice((1.0,), (1.0,))  # share of the basket returned
    delay_min: int = 1  # days after the purchase, uniform in [delay_min, delay_max]
    delay_max: int = 30


@dataclass(frozen=True)
class Segment:
    name: str
    share: float
    r: float  # purchase-rate Gamma shape
    alpha_days: float  # Gamma rate, expressed per day (alpha in weeks × 7)
    a: float = 0.0  # BG/NBD dropout Beta(a, b)
    b: float = 0.0
    s: float = 0.0  # Pareto/NBD lifetime Gamma(s, beta)
    beta_days: float = 0.0
    spend_p: float = 6.0
    spend_q: float = 4.0
    spend_gamma: float = 30.0  # currency units
    categories: Choice = Choice(("other",), (1.0,))
    channels: Choice = Choice(("store",), (1.0,))
    items_mean: float = 1.0
    quantity_mean: float = 0.0  # mean `quantity` of a purchase (litres, nights, units): Poisson(quantity)
    lines: LineModel | None = None  # baskets with lines (drawn only for a program that reads lines)
    shipping_cents: tuple[tuple[str, int], ...] = ()
    redeem: float = 0.5
    voucher_use: float = 0.25  # chance a member holding a voucher with a life spends one at a purchase
    refer_per_day: float = 0.0
    events: tuple[tuple[str, CustomEventModel], ...] = ()
    attributes: tuple[tuple[str, Choice], ...] = ()
    birthday_known: float = 1.0
    enroll_share: float = 1.0
    enroll_ramp_days: int = 0
    returns: ReturnModel = ReturnModel()
    age: AgeModel | None = None  # time units since the first purchase at the start (None: new customers)
    uncertainty: ParameterUncertainty | None = None  # fitted parameters drawn jointly once per trial


@dataclass(frozen=True)
class Response:
    """Behavioural response to the program; every effect 0 means no response."""

    goal_gradient: float = 0.2  # Kivetz, Urminsky & Zheng 2006
    post_reward_lift: float = 0.05  # Taylor & Neslin 2005 (rewarded behaviour)
    post_reward_days: int = 14
    heavy_buyer_damping: float = 1.0  # Liu 2007: lift / (1 + d·λ/λ̄)
    tier_dropout_reduction: float = 0.2  # Meyer-Waarden 2007: top tier's dropout × (1 − x)
    downgrade_dropout_increase: float = 0.5  # Wagner, Hennig-Thurau & Rudolph 2009
    perk_use_rate: float = 0.5  # share of purchases on which a per-use tier perk is used
    referral_action_rate: float = 0.3  # Kumar, Petersen & Leone 2007: intent -> referral
    referral_conversion: float = 0.13  # Kumar et al. 2007: referral -> customer (12-14 %)
    satisfaction: bool = False  # NPS estimate
    satisfaction_mean: float = 7.0
    satisfaction_sd: float = 2.0
    satisfaction_redeem_boost: float = 0.5
    satisfaction_tier_boost: float = 0.3

    @staticmethod
    def off() -> "Response":
        return Response(0.0, 0.0, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, False)

    @property
    def changes_behaviour(self) -> bool:
        return any((self.goal_gradient, self.post_reward_lift, self.tier_dropout_reduction,
                    self.downgrade_dropout_increase))


@dataclass(frozen=True)
class Economics:
    gross_margin: float = 0.3
    fixed_cost_per_member_month_cents: int = 0
    fixed_cost_per_month_cents: int = 0
    acquisition_cost_cents: int = 0  # per customer brought in by a referral


@dataclass(frozen=True)
class Population:
    name: str
    model: str  # "bgnbd" | "pareto_nbd"
    segments: tuple[Segment, ...]
    economics: Economics
    response: Response
    start: dt.date | None = None
    source_hash: str = ""
    path: str = "<default>"
    referral_pool: float = 1.0  # at most this share of a block's customers as spare slots for newcomers
    days_per_unit: float = 7.0  # days in the file's `time_unit`
    customers: Any = None  # the customers file (`simulator.model.customers_file.CustomerBase` or a task's rows)
    currency: str | None = None  # the money the amounts are in (ISO 4217 code), when the file says

    def segment_names(self) -> list[str]:
        return [s.name for s in self.segments]

    @property
    def has_returns(self) -> bool:
        return any(s.returns.rate > 0 for s in self.segments)


_TOP_KEYS = ["version", "name", "description", "time_unit", "model", "start", "economics",
             "response", "segments", "referral_pool", "customers", "currency"]
_SEG_KEYS = ["name", "share", "purchase", "dropout", "lifetime", "spend", "categories", "channels",
             "items", "quantity", "lines", "shipping", "redeem", "voucher_use", "refer", "events", "attributes", "birthday_known",
             "enrollment", "returns", "description", "age", "uncertainty"]
_RESP_KEYS = ["goal_gradient", "post_reward_lift", "post_reward_days", "heavy_buyer_damping",
              "tier_dropout_reduction", "downgrade_dropout_increase", "perk_use_rate",
              "referral_action_rate", "referral_conversion", "satisfaction"]
_ECON_KEYS = ["gross_margin", "fixed_cost_per_member_per_month", "fixed_cost_per_month",
              "acquisition_cost"]


@dataclass(frozen=True)
class Bound:
    """The largest value a population key takes, and why (quoted in the error's hint)."""

    high: float
    why: str
    per_day: bool = False  # a rate: `high` is per day and scales with the file's time_unit


# Upper bounds of the population keys (lower bounds stay beside each key's reading); every
# other number is at most `limits.MAX_POPULATION_NUMBER`. Derived from rulelang/limits.py.
BOUNDS: dict[str, Bound] = {
    "refer": Bound(limits.MAX_EVENTS_PER_DAY, "every referral intent is drawn before the run and kept in memory",
                   per_day=True),
    "events.rate": Bound(limits.MAX_EVENTS_PER_DAY, "every custom event is drawn before the run and kept in memory",
                         per_day=True),
    "spend.gamma": Bound(limits.MAX_MEAN_SPEND_CENTS / 100,
                         "the mean spend p·gamma/(q − 1) must stay an amount the engines hold"),
    "items": Bound(limits.MAX_ITEMS, "the mean number of items in a basket"),
    "quantity": Bound(limits.MAX_QUANTITY // 1000, "a draw far above the mean quantity must stay a quantity the "
                      "engines hold (rulelang/limits.py MAX_QUANTITY)"),
    "shipping": Bound(limits.MAX_MEAN_SPEND_CENTS / 100, "a fee added to a purchase's amount"),
    "enrollment.ramp_months": Bound(limits.MAX_MONTHS, "the longest simulation, in months"),
    "returns.delay_days": Bound(limits.MAX_DAYS, "the longest duration in days"),
    "post_reward_days": Bound(limits.MAX_DAYS, "the longest duration in days"),
    "goal_gradient": Bound(limits.MAX_MULTIPLIER, "the largest multiplier"),
    "post_reward_lift": Bound(limits.MAX_MULTIPLIER, "the largest multiplier"),
    "heavy_buyer_damping": Bound(limits.MAX_MULTIPLIER, "the largest multiplier"),
    "downgrade_dropout_increase": Bound(limits.MAX_MULTIPLIER, "the largest multiplier"),
    "satisfaction.score": Bound(10.0, "satisfaction is a score from 0 to 10"),
    "fixed_cost_per_member_per_month": Bound(limits.MAX_MEMBER_MONTH_CENTS / 100,
                                             "times every member and month it must stay a sum the engines hold"),
    "fixed_cost_per_month": Bound(limits.MAX_MONEY_CENTS / 100, "the largest amount of money"),
    "acquisition_cost": Bound(limits.MAX_MEMBER_MONTH_CENTS / 100,
                              "times every referred newcomer it must stay a sum the engines hold"),
    "referral_pool": Bound(limits.MAX_REFERRAL_POOL, "spare slots per customer, held in memory for the whole run"),
}
_CEILING_HINT = (f"a number in a population file is at most {limits.MAX_POPULATION_NUMBER:,} "
                 "(see rulelang/limits.py)")


def _limit(key: str, per_day: float = 1.0) -> dict[str, Any]:
    """`high` and `hint` for `Reader.number` from `BOUNDS[key]` (a rate's bound in the file's unit)."""
    b = BOUNDS[key]
    high = b.high * per_day if b.per_day else b.high
    unit = next((u for u, days in DAYS_PER_UNIT.items() if days == per_day), f"{per_day:g} days")
    per = "" if not b.per_day else f" a {unit}" if per_day == 1 else f" a {unit} ({plain(b.high)} a day)"
    return {"high": high, "hint": f"at most {plain(high)}{per}: {b.why}"}


def _cents(value: float | None) -> int:
    return int(round((value or 0.0) * 100))


def _lines(rd: Reader, node: yaml.Node, what: str) -> LineModel | None:
    """`lines: {per_purchase: 3, categories: {fuel: {share: 0.2, amount: 3, quantity: 40}, ...}}`."""
    m = rd.mapping(node, what, ("per_purchase", "categories"))
    per = rd.number(m.get("per_purchase"), f"{what} per_purchase", 1.0, low=1.0, high=float(MAX_LINES)) or 1.0
    cats = rd.mapping(m.get("categories"), f"{what} categories")
    if not cats:
        rd.error(node, "RL603", f"{what} needs `categories`, each with a `share` of the lines",
                 "e.g. `categories: {grocery: {share: 0.8, amount: 1}, fuel: {share: 0.2, amount: 3, quantity: 40}}`")
        return None
    names, shares, amounts, quantities = [], [], [], []
    attributes: list[tuple[AttributeModel, ...]] = []
    for name, cnode in cats.items():
        c = rd.mapping(cnode, f"{what} categories.{name}", ("share", "amount", "quantity", "attributes"))
        attributes.append(_line_attributes(rd, c.get("attributes"), f"{what} categories.{name}.attributes"))
        names.append(str(name))
        shares.append(rd.number(c.get("share"), f"{what} categories.{name}.share", 0.0, low=0.0, high=1.0) or 0.0)
        amounts.append(rd.number(c.get("amount"), f"{what} categories.{name}.amount", 1.0, low=0.0, high=1000.0) or 0.0)
        quantities.append(rd.number(c.get("quantity"), f"{what} categories.{name}.quantity", 0.0, low=0.0,
                                    **_limit("quantity")) or 0.0)
    total = sum(shares)
    if total <= 0:
        rd.error(node, "RL603", f"{what}: the categories' shares add up to 0", "give each category a `share` of the lines")
        return None
    return LineModel(per, tuple(names), tuple(x / total for x in shares), tuple(amounts), tuple(quantities),
                     tuple(attributes) if any(attributes) else ())


def _line_attributes(rd: Reader, node: yaml.Node | None, what: str) -> tuple[AttributeModel, ...]:
    """`attributes: {brand: {Own: 0.3, Other: 0.7}, organic: {true: 0.2, false: 0.8}}`: for each
    attribute, its values (as written) and their shares (normalised to 1)."""
    out: list[AttributeModel] = []
    keys = {str(k.value): k for k, _ in node.value if isinstance(k, yaml.ScalarNode)} \
        if isinstance(node, yaml.MappingNode) else {}
    for attr, anode in rd.mapping(node, what).items():
        awhat = f"{what}.{attr}"
        if not isinstance(anode, yaml.MappingNode) or not anode.value:
            rd.error(anode, "RL603", f"{awhat} must map each value of the attribute to its share of the lines",
                     "e.g. `brand: {Own: 0.3, Other: 0.7}`")
            continue
        values, weights, spans = [], [], []
        for key_node, value_node in anode.value:
            text = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else ""
            if not text or text in values:
                rd.error(key_node, "RL602", f"{'duplicate' if text else 'an empty'} value `{text}` in {awhat}",
                         "give each value once, with its share")
                continue
            values.append(text)
            spans.append(rd.span(key_node))
            weights.append(rd.number(value_node, f"{awhat}.{text}", 0.0, low=0.0, high=1.0) or 0.0)
        total = sum(weights)
        if values and total <= 0:
            rd.error(anode, "RL603", f"{awhat}: the shares add up to 0", "give each value a share of the lines")
            continue
        if values:
            out.append(AttributeModel(str(attr), tuple(values), tuple(w / total for w in weights),
                                      span=rd.span(keys.get(str(attr), anode)), value_spans=tuple(spans)))
    return tuple(out)


def _choice(rd: Reader, node: yaml.Node | None, what: str, default: Choice) -> Choice:
    """`{a: 0.7, b: 0.3}` or `{values: [...], weights: [...]}` or a single constant."""
    if node is None:
        return default
    if isinstance(node, yaml.ScalarNode):
        return Choice((scalar_value(node),), (1.0,))
    if isinstance(node, yaml.SequenceNode):
        values = tuple(scalar_value(n) for n in node.value)
        if not values:
            rd.error(node, "RL603", f"{what} must list at least one value")
            return default
        return Choice(values, tuple(1.0 / len(values) for _ in values))
    m = rd.mapping(node, what)
    if set(m) == {"values", "weights"} or set(m) == {"values"}:
        values = tuple(scalar_value(n) for n in rd.sequence(m["values"], f"{what}.values"))
        if "weights" in m:
            weights = tuple(rd.number(n, f"{what}.weights", 0.0, low=0.0) or 0.0
                            for n in rd.sequence(m["weights"], f"{what}.weights"))
        else:
            weights = tuple(1.0 for _ in values)
        if len(values) != len(weights) or not values:
            rd.error(node, "RL603", f"{what}: `values` and `weights` must have the same, non-zero length")
            return default
    else:
        values = tuple(m.keys())
        weights = tuple(rd.number(n, f"{what}.{k}", 0.0, low=0.0) or 0.0 for k, n in m.items())
    total = sum(weights)
    if total <= 0:
        rd.error(node, "RL605", f"{what}: the weights must add up to more than 0")
        return default
    if abs(total - 1.0) > 1e-6 and len(values) > 1 and set(m) != {"values"} and "weights" not in m:
        rd.error(node, "RL605", f"{what}: the shares add up to {total:g}, not 1",
                 "make the shares add up to 1 (for example 0.7 and 0.3)")
    return Choice(values, tuple(w / total for w in weights))


def _segment(rd: Reader, node: yaml.Node, index: int, per_day: float, model: str) -> Segment | None:
    m = rd.mapping(node, f"segment #{index + 1}", _SEG_KEYS)
    if not m:
        return None
    name = rd.string(m.get("name"), "segment name", f"segment{index + 1}") or f"segment{index + 1}"
    where = f"segment `{name}`"
    share = rd.number(m.get("share"), f"{where} share", None, low=0.0, high=1.0)
    if share is None:
        if "share" not in m:
            rd.error(node, "RL604", f"{where} needs a `share` (its part of the customers, 0..1)")
        share = 0.0
    kw: dict[str, Any] = {}
    if "purchase" not in m:
        rd.error(node, "RL604", f"{where} needs `purchase: {{r: .., alpha: ..}}` (Gamma purchase rate per {per_day:g}-day unit)")
        return None
    pm = rd.mapping(m["purchase"], f"{where} purchase", ["r", "alpha"])
    missing = [k for k in ("r", "alpha") if k not in pm]
    if missing and isinstance(m["purchase"], yaml.MappingNode):
        rd.error(m["purchase"], "RL604", f"{where} purchase needs {' and '.join(f'`{k}`' for k in missing)}",
                 f"write `purchase: {{r: .., alpha: ..}}`: shape r and rate alpha of the Gamma purchase rate "
                 f"per {per_day:g}-day unit (mean r / alpha purchases per unit)")
    kw["r"] = rd.number(pm.get("r"), f"{where} purchase.r", 1.0, low=0.0, low_open=True) or 1.0
    alpha = rd.number(pm.get("alpha"), f"{where} purchase.alpha", 1.0, low=0.0, low_open=True) or 1.0
    kw["alpha_days"] = alpha * per_day
    if model == "bgnbd":
        if "lifetime" in m:
            rd.error(m["lifetime"], "RL603", f"{where}: `lifetime` belongs to `model: pareto_nbd`",
                     "use `dropout: {a: .., b: ..}` with the BG/NBD model")
        dm = rd.mapping(m.get("dropout"), f"{where} dropout", ["a", "b"])
        kw["a"] = rd.number(dm.get("a"), f"{where} dropout.a", 1.0, low=0.0, low_open=True) or 1.0
        kw["b"] = rd.number(dm.get("b"), f"{where} dropout.b", 1e9 if "dropout" not in m else 1.0,
                            low=0.0, low_open=True) or 1.0
    else:
        life_key = "dropout" if "dropout" in m and "lifetime" not in m else "lifetime"  # `loyalty fit` writes dropout
        lm = rd.mapping(m.get(life_key), f"{where} {life_key}", ["s", "beta"])
        kw["s"] = rd.number(lm.get("s"), f"{where} lifetime.s", 1.0, low=0.0, low_open=True) or 1.0
        beta = rd.number(lm.get("beta"), f"{where} lifetime.beta", 1e9, low=0.0, low_open=True) or 1e9
        kw["beta_days"] = beta * per_day
    sm = rd.mapping(m.get("spend"), f"{where} spend", ["p", "q", "gamma"])
    kw["spend_p"] = rd.number(sm.get("p"), f"{where} spend.p", 6.0, low=0.0, low_open=True) or 6.0
    q = rd.number(sm.get("q"), f"{where} spend.q", 4.0, low=1.0, low_open=True)
    kw["spend_q"] = q or 4.0
    kw["spend_gamma"] = rd.number(sm.get("gamma"), f"{where} spend.gamma", 30.0, low=0.0, low_open=True,
                                  **_limit("spend.gamma")) or 30.0
    mean_cents = 100 * kw["spend_p"] * kw["spend_gamma"] / (kw["spend_q"] - 1.0)
    if mean_cents > limits.MAX_MEAN_SPEND_CENTS and "spend" in m:
        rd.error(m["spend"], "RL603", f"{where} spend: the mean spend p·gamma/(q − 1) is {mean_cents / 100:g}, "
                 f"more than {limits.MAX_MEAN_SPEND_CENTS / 100:g}",
                 "a draw a thousand times the mean must still be an amount the engines hold "
                 "(rulelang/limits.py MAX_MEAN_SPEND_CENTS)")
    kw["categories"] = _choice(rd, m.get("categories"), f"{where} categories", Choice(("other",), (1.0,)))
    kw["channels"] = _choice(rd, m.get("channels"), f"{where} channels", Choice(("store",), (1.0,)))
    kw["items_mean"] = rd.number(m.get("items"), f"{where} items", 1.0, low=1.0, **_limit("items")) or 1.0
    kw["quantity_mean"] = rd.number(m.get("quantity"), f"{where} quantity", 0.0, low=0.0, **_limit("quantity")) or 0.0
    if m.get("lines") is not None:
        kw["lines"] = _lines(rd, m["lines"], f"{where} lines")
    ship = rd.mapping(m.get("shipping"), f"{where} shipping")
    kw["shipping_cents"] = tuple((k, _cents(rd.number(v, f"{where} shipping.{k}", 0.0, low=0.0,
                                                              **_limit("shipping"))))
                                 for k, v in ship.items())
    kw["redeem"] = rd.number(m.get("redeem"), f"{where} redeem", 0.5, low=0.0, high=1.0)
    kw["voucher_use"] = rd.number(m.get("voucher_use"), f"{where} voucher_use", 0.25, low=0.0, high=1.0)
    kw["refer_per_day"] = (rd.number(m.get("refer"), f"{where} refer", 0.0, low=0.0,
                                     **_limit("refer", per_day)) or 0.0) / per_day
    events = []
    for ename, enode in rd.mapping(m.get("events"), f"{where} events").items():
        if isinstance(enode, yaml.ScalarNode):
            rate = rd.number(enode, f"{where} events.{ename}", 0.0, low=0.0, **_limit("events.rate", per_day)) or 0.0
            events.append((ename, CustomEventModel(rate / per_day)))
            continue
        em = rd.mapping(enode, f"{where} events.{ename}", ["rate", "fields"])
        rate = rd.number(em.get("rate"), f"{where} events.{ename}.rate", 0.0, low=0.0,
                         **_limit("events.rate", per_day)) or 0.0
        fields = tuple((fname, _choice(rd, fnode, f"{where} events.{ename}.fields.{fname}", Choice((0,), (1.0,))))
                       for fname, fnode in rd.mapping(em.get("fields"), f"{where} events.{ename}.fields").items())
        events.append((ename, CustomEventModel(rate / per_day, fields)))
    kw["events"] = tuple(events)
    kw["attributes"] = tuple((aname, _choice(rd, anode, f"{where} attributes.{aname}", Choice((None,), (1.0,))))
                             for aname, anode in rd.mapping(m.get("attributes"), f"{where} attributes").items())
    kw["birthday_known"] = rd.number(m.get("birthday_known"), f"{where} birthday_known", 1.0, low=0.0, high=1.0)
    en = rd.mapping(m.get("enrollment"), f"{where} enrollment", ["share", "ramp_months"])
    kw["enroll_share"] = rd.number(en.get("share"), f"{where} enrollment.share", 1.0, low=0.0, high=1.0)
    ramp = rd.number(en.get("ramp_months"), f"{where} enrollment.ramp_months", 0.0, low=0.0,
                     **_limit("enrollment.ramp_months")) or 0.0
    kw["enroll_ramp_days"] = int(round(ramp * DAYS_PER_UNIT["month"]))
    kw["returns"] = _returns(rd, m.get("returns"), where)
    kw["age"] = parse_age(rd, m.get("age"), where)
    kw["uncertainty"] = parse_uncertainty(rd, m.get("uncertainty"), where, model)
    return Segment(name=name, share=share, **kw)


def _as_float(v: Any) -> Any:
    """A mapping key such as `0.5` arrives as text; numbers become floats, anything else stays."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    try:
        return float(str(v))
    except ValueError:
        return v


def _returns(rd: Reader, node: yaml.Node | None, where: str) -> ReturnModel:
    """`returns: 0.25` (the rate) or `returns: {rate, fraction, delay_days}`."""
    if node is None:
        return ReturnModel()
    if isinstance(node, yaml.ScalarNode):
        rate = rd.number(node, f"{where} returns", 0.0, low=0.0, high=1.0) or 0.0
        return ReturnModel(rate=rate)
    m = rd.mapping(node, f"{where} returns", ["rate", "fraction", "delay_days"])
    rate = rd.number(m.get("rate"), f"{where} returns.rate", 0.0, low=0.0, high=1.0) or 0.0
    fraction = ReturnModel().fraction
    fnode = m.get("fraction")
    if isinstance(fnode, yaml.ScalarNode):
        f = rd.number(fnode, f"{where} returns.fraction", 1.0, low=0.0, high=1.0, low_open=True) or 1.0
        fraction = Choice((f,), (1.0,))
    elif fnode is not None:
        fraction = _choice(rd, fnode, f"{where} returns.fraction", fraction)
        fraction = Choice(tuple(_as_float(v) for v in fraction.values), fraction.weights)
        bad = [v for v in fraction.values if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 1]
        if bad:
            rd.error(fnode, "RL603", f"{where} returns.fraction: every returned share must be a number in (0, 1], "
                     f"got `{bad[0]}`", "for example `{0.5: 0.3, 1: 0.7}`: 30 % of returns are half baskets")
            fraction = ReturnModel().fraction
        else:
            fraction = Choice(tuple(float(v) for v in fraction.values), fraction.weights)
    lo, hi = ReturnModel().delay_min, ReturnModel().delay_max
    dnode = m.get("delay_days")
    if isinstance(dnode, yaml.ScalarNode):
        d = rd.number(dnode, f"{where} returns.delay_days", float(lo), low=1.0, **_limit("returns.delay_days"))
        lo = hi = int(d or lo)
    elif dnode is not None:
        dm = rd.mapping(dnode, f"{where} returns.delay_days", ["min", "max"])
        lo = int(rd.number(dm.get("min"), f"{where} returns.delay_days.min", float(lo), low=1.0,
                           **_limit("returns.delay_days")) or lo)
        hi = int(rd.number(dm.get("max"), f"{where} returns.delay_days.max", float(max(hi, lo)), low=1.0,
                           **_limit("returns.delay_days")) or hi)
        if hi < lo:
            rd.error(dnode, "RL603", f"{where} returns.delay_days: `max` ({hi}) is below `min` ({lo})")
            hi = lo
    return ReturnModel(rate, fraction, lo, hi)


def _response(rd: Reader, node: yaml.Node | None) -> Response:
    if node is None:
        return Response()
    value = scalar_value(node) if isinstance(node, yaml.ScalarNode) else None
    if isinstance(node, yaml.ScalarNode):
        if value in ("off", False, "none"):
            return Response.off()
        if value in ("on", True, "default"):
            return Response()
        rd.error(node, "RL603", "response must be `off`, `default` or a mapping of effects")
        return Response()
    m = rd.mapping(node, "response", _RESP_KEYS)
    d = Response()
    kw: dict[str, Any] = {}
    for key in _RESP_KEYS:
        if key == "satisfaction" or key not in m:
            continue
        default = getattr(d, key)
        share = key in ("referral_action_rate", "referral_conversion", "perk_use_rate", "tier_dropout_reduction")
        v = rd.number(m[key], f"response.{key}", float(default), low=0.0,
                      **({"high": 1.0} if share else _limit(key)))
        kw[key] = int(v) if isinstance(default, int) else v
    if "satisfaction" in m:
        sn = m["satisfaction"]
        if isinstance(sn, yaml.ScalarNode):
            kw["satisfaction"] = rd.boolean(sn, "response.satisfaction", False)
        else:
            sm = rd.mapping(sn, "response.satisfaction", ["enabled", "mean", "sd", "redeem_boost", "tier_boost"])
            kw["satisfaction"] = rd.boolean(sm.get("enabled"), "response.satisfaction.enabled", True)
            kw["satisfaction_mean"] = rd.number(sm.get("mean"), "response.satisfaction.mean", 7.0, low=0.0, high=10.0)
            score = _limit("satisfaction.score")
            kw["satisfaction_sd"] = rd.number(sm.get("sd"), "response.satisfaction.sd", 2.0, low=0.0, **score)
            kw["satisfaction_redeem_boost"] = rd.number(sm.get("redeem_boost"), "response.satisfaction.redeem_boost",
                                                        0.5, **score)
            kw["satisfaction_tier_boost"] = rd.number(sm.get("tier_boost"), "response.satisfaction.tier_boost", 0.3,
                                                      **score)
    return dataclasses.replace(d, **kw)


def load_population(source: str, path: str) -> tuple[Population | None, list[Diagnostic]]:
    """Parse and validate a population file; returns (population, diagnostics)."""
    bag = DiagnosticBag()
    root = compose(source, path, bag)
    if root is None:
        if not bag.items:
            bag.error("RL604", "the population file is empty", _span1(path),
                      "start from simulator/model/populations/default.yaml")
        return None, bag.items
    rd = Reader(path, bag, limits.MAX_POPULATION_NUMBER, _CEILING_HINT)
    top = rd.mapping(root, "the population file", _TOP_KEYS)
    unit = rd.string(top.get("time_unit"), "time_unit", "week", DAYS_PER_UNIT.keys()) or "week"
    per_day = DAYS_PER_UNIT[unit]
    model = rd.string(top.get("model"), "model", "bgnbd", ["bgnbd", "pareto_nbd"]) or "bgnbd"
    segments: list[Segment] = []
    seg_nodes = rd.sequence(top.get("segments"), "segments")
    if "segments" not in top and top:
        bag.error("RL604", "a population needs `segments:` (a list of customer groups with shares)", rd.span(root))
    for i, sn in enumerate(seg_nodes):
        seg = _segment(rd, sn, i, per_day, model)
        if seg is not None:
            segments.append(seg)
    names = [s.name for s in segments]
    for i, n in enumerate(names):
        if n in names[:i]:
            rd.error(seg_nodes[i], "RL602", f"two segments are named `{n}`")
    total = sum(s.share for s in segments)
    if segments and abs(total - 1.0) > 1e-6:
        rd.error(top["segments"], "RL605", f"segment shares add up to {total:g}, not 1",
                 "make the `share` values of all segments add up to 1")
    em = rd.mapping(top.get("economics"), "economics", _ECON_KEYS)
    econ = Economics(
        gross_margin=rd.number(em.get("gross_margin"), "economics.gross_margin", 0.3, low=0.0, high=1.0),
        fixed_cost_per_member_month_cents=_cents(rd.number(em.get("fixed_cost_per_member_per_month"),
                                                           "economics.fixed_cost_per_member_per_month", 0.0, low=0.0,
                                                           **_limit("fixed_cost_per_member_per_month"))),
        fixed_cost_per_month_cents=_cents(rd.number(em.get("fixed_cost_per_month"), "economics.fixed_cost_per_month", 0.0,
                                             low=0.0, **_limit("fixed_cost_per_month"))),
        acquisition_cost_cents=_cents(rd.number(em.get("acquisition_cost"), "economics.acquisition_cost", 0.0, low=0.0,
                                         **_limit("acquisition_cost"))),
    )
    response = _response(rd, top.get("response"))
    start = rd.date(top.get("start"), "start", None)
    pool = rd.number(top.get("referral_pool"), "referral_pool", 1.0, low=0.0, **_limit("referral_pool"))
    name = rd.string(top.get("name"), "name", Path(path).stem) or Path(path).stem
    currency = rd.string(top.get("currency"), "currency", None)
    if currency is not None and not (len(currency) == 3 and currency.isalpha() and currency.isupper()):
        rd.error(top["currency"], "RL603", f"currency `{currency}` is not a three-letter code such as USD or EUR",
                 "write the ISO 4217 code of the money the population's amounts are in")
    if bag.has_errors:
        return None, bag.items
    customers = _customers_file(rd, top.get("customers"), path, segments)
    if bag.has_errors:
        return None, bag.items
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()
    return Population(name, model, tuple(segments), econ, response, start, digest, path, pool, per_day,
                      customers, currency=currency), bag.items


def _customers_file(rd: Reader, node: yaml.Node | None, path: str, segments: list[Segment]):
    """`customers: FILE` (relative to the population file): the existing customers, read once
    (see `simulator.model.customers_file`); their problems are located in that file."""
    if node is None:
        return None
    from simulator.model.customers_file import CustomersFileError, read_customers

    name = rd.string(node, "customers", None)
    if not name:
        return None
    file = Path(name) if Path(name).is_absolute() else Path(path).parent / name
    try:
        return read_customers(file, [s.name for s in segments])
    except CustomersFileError as exc:
        rd.bag.items.extend(exc.diagnostics)
        if any(d.code == "RL640" and "cannot read" in d.message for d in exc.diagnostics):
            rd.error(node, "RL640", f"the customers file `{name}` named here cannot be read",
                     "the path is relative to the population file")
        return None


def _span1(path: str):
    from rulelang.diagnostics import Span
    return Span.point(path, 1, 1)


def load_population_file(path: str | Path | None) -> Population:
    """Load a population file (the documented default when `path` is None); raises PopulationError."""
    p = Path(path) if path is not None else DEFAULT_POPULATION
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        from rulelang.diagnostics import Diagnostic as D, Span
        raise PopulationError([D("RL600", "error", f"cannot read population file: {exc.strerror or exc}",
                                 Span(str(p), 0, 0, 0, 0), "check the path given to --population")]) from None
    pop, diags = load_population(text, str(p))
    if pop is None:
        raise PopulationError([d for d in diags if d.is_error] or diags)
    return pop


def default_population() -> Population:
    return load_population_file(None)
