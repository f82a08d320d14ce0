"""Latent customer traits for one RNG block of customers.

Takes: a `Population`, the run's seed, the trial and block numbers, the block's side
stream, the block's customer count and the simulated calendar. Gives: `Traits`, plain
numpy arrays (one entry per customer slot: the block's customers followed by a pool of
spare slots for newcomers brought by referrals, one per drawn referral, at most
`referral_pool` × the block's customers) plus pre-drawn dated events (custom events,
referrals) as (day, customer) lists.

Streams: every trait has its own stream (`TraitStreams`: segment, purchase rate, dropout
or lifetime, spend, birthday, enrollment, satisfaction, each attribute; the spare slots
and each custom event their own set), the referrals come from the block's side stream
(2). So a block's traits do not depend on the program or on how blocks are chunked; a
trait depends only on its own parameters (a sensitivity run that changes the dropout
redraws nothing else); and the block's stream 0, which the day loop uses, is untouched.

Within `share_draws()` (the what-if runs' tasks, `simulator.trials.montecarlo.run_tasks`) a process
draws a block once for every variant with the same draw inputs (`draw_key`: the population without
what the draw never reads, `NOT_DRAWN_*`) and hands out copies, the side stream set to where the
draw leaves it: the traits, and so every result, are the ones a draw per variant gives.

Formulas (rates per day after the population's unit conversion):
- λ ~ Gamma(r, rate α) purchases per day; daily purchase probability q = min(λ, 1)
  (one purchase a day at most; exact for the mean while λ ≤ 1).
- BG/NBD dropout p ~ Beta(a, b), applied after each purchase. Pareto/NBD:
  μ ~ Gamma(s, rate β), death day = ⌊Exp(μ)⌋.
- ν ~ Gamma(q, rate γ); each purchase spends Gamma(p, rate ν) currency units, rounded to cents.
"""

from __future__ import annotations

import datetime as dt
import zlib

from dataclasses import MISSING, dataclass, field, fields, replace

import numpy as np

from simulator.model.strings import StringTable
from simulator.model.history_traits import aged_state, history_traits
from simulator.model.customers_file import ChunkRows
from simulator.model.population import Choice, Economics, Population, Response, Segment

NEVER = np.int32(2**30)
NON_LEAP_MONTH_START = np.array([0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365])


@dataclass(kw_only=True)
class SegmentTables:
    """Per-segment lookup tables shared by every block (built once per run)."""

    cat_codes: list[np.ndarray]
    cat_cdf: list[np.ndarray]
    chan_codes: list[np.ndarray]
    chan_cdf: list[np.ndarray]
    shipping: np.ndarray  # (segments, string codes) cents
    items_mean: np.ndarray
    quantity_mean: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per segment: Poisson mean of `quantity`
    spend_p: np.ndarray
    redeem: np.ndarray
    event_names: tuple[str, ...]
    attr_names: tuple[str, ...]
    # returns: per segment rate and delay range; returned shares as one table over all
    # segments (segment s owns the bounds s + cdf, so one searchsorted picks for everyone)
    voucher_use: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # per segment
    ret_rate: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    ret_delay_min: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    ret_delay_span: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    ret_frac_bounds: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ret_frac_values: np.ndarray = field(default_factory=lambda: np.zeros(0))

    # category and channel of a purchase: alias tables over all segments (see `Alias`)
    cat_alias: "Alias | None" = None
    chan_alias: "Alias | None" = None

    @property
    def has_returns(self) -> bool:
        return bool((self.ret_rate > 0).any())


@dataclass(frozen=True)
class Alias:
    """Walker's alias tables of one discrete distribution per segment, padded to `k` columns:
    a uniform u of a customer of segment s picks column j = ⌊u·k⌋ and takes `first[s, j]` when
    the rest u·k − j is below `prob[s, j]`, else `second[s, j]` (exact sampling, one uniform)."""

    k: int
    prob: np.ndarray  # (segments, k) float64
    first: np.ndarray  # (segments, k) int64 value codes
    second: np.ndarray

    @staticmethod
    def build(tables: list[tuple[np.ndarray, np.ndarray]]) -> "Alias":
        """`tables`: per segment (value codes, probabilities)."""
        k = max(len(codes) for codes, _ in tables)
        prob = np.ones((len(tables), k))
        first = np.zeros((len(tables), k), dtype=np.int64)
        second = np.zeros((len(tables), k), dtype=np.int64)
        for s, (codes, weights) in enumerate(tables):
            w = np.zeros(k)
            w[:len(weights)] = weights
            scaled = w / w.sum() * k
            col = list(range(k))
            small = [j for j in col if scaled[j] < 1.0]
            large = [j for j in col if scaled[j] >= 1.0]
            alias = list(range(k))
            p = scaled.copy()
            while small and large:
                j, g = small.pop(), large.pop()
                alias[j] = g
                p[g] -= 1.0 - p[j]
                (small if p[g] < 1.0 else large).append(g)
            for j in small + large:
                p[j] = 1.0
            padded = np.zeros(k, dtype=np.int64)
            padded[:len(codes)] = codes
            prob[s] = p
            first[s] = padded
            second[s] = padded[np.array(alias)]
        return Alias(k, prob, first, second)

    @property
    def constant(self) -> bool:
        """Every segment has a single value (no draw needed)."""
        return self.k == 1

    def pick(self, seg: np.ndarray, u: np.ndarray) -> np.ndarray:
        x = u.astype(np.float64) * self.k
        j = x.astype(np.int64)
        flat = seg.astype(np.int64) * self.k + j
        return np.where(x - j < self.prob.ravel()[flat], self.first.ravel()[flat], self.second.ravel()[flat])


def flat_choice(choices: list[tuple[tuple, tuple]]) -> tuple[np.ndarray, np.ndarray]:
    """Bounds and values of per-segment discrete distributions as one table: a draw u of
    segment s picks values[searchsorted(bounds, s + u, side="right")]."""
    bounds, values = [], []
    for s, (vals, weights) in enumerate(choices):
        cdf = np.cumsum(np.array(weights, dtype=np.float64))
        cdf = cdf / cdf[-1]
        cdf[-1] = 1.0
        bounds.extend((s + cdf).tolist())
        values.extend(vals)
    return np.array(bounds), np.array(values)


def _cdf(choice: Choice, strings: StringTable) -> tuple[np.ndarray, np.ndarray]:
    codes = np.array([strings.code(str(v)) for v in choice.values], dtype=np.int64)
    cdf = np.cumsum(np.array(choice.weights, dtype=np.float64))
    cdf[-1] = 1.0
    return codes, cdf


def _cdf_weights(choice: Choice, strings: StringTable) -> tuple[np.ndarray, np.ndarray]:
    codes = np.array([strings.code(str(v)) for v in choice.values], dtype=np.int64)
    return codes, np.array(choice.weights, dtype=np.float64)


def segment_tables(pop: Population, strings: StringTable) -> SegmentTables:
    cats = [_cdf(s.categories, strings) for s in pop.segments]
    chans = [_cdf(s.channels, strings) for s in pop.segments]
    for s in pop.segments:
        for ch, _ in s.shipping_cents:
            strings.code(ch)
    ship = np.zeros((len(pop.segments), len(strings.names) + 1), dtype=np.int64)
    for i, s in enumerate(pop.segments):
        for ch, cents in s.shipping_cents:
            ship[i, strings.code(ch)] = cents
    events = sorted({name for s in pop.segments for name, _ in s.events})
    attrs = sorted({name for s in pop.segments for name, _ in s.attributes})
    rets = [s.returns for s in pop.segments]
    frac_bounds, frac_values = flat_choice([(r.fraction.values, r.fraction.weights) for r in rets])
    return SegmentTables(
        cat_codes=[c for c, _ in cats],
        cat_cdf=[f for _, f in cats],
        chan_codes=[c for c, _ in chans],
        chan_cdf=[f for _, f in chans],
        shipping=ship,
        items_mean=np.array([s.items_mean for s in pop.segments]),
        quantity_mean=np.array([s.quantity_mean for s in pop.segments]),
        spend_p=np.array([s.spend_p for s in pop.segments]),
        redeem=np.array([s.redeem for s in pop.segments], dtype=np.float32),
        voucher_use=np.array([s.voucher_use for s in pop.segments], dtype=np.float32),
        event_names=tuple(events),
        attr_names=tuple(attrs),
        ret_rate=np.array([r.rate for r in rets], dtype=np.float32),
        ret_delay_min=np.array([r.delay_min for r in rets], dtype=np.int64),
        ret_delay_span=np.array([r.delay_max - r.delay_min + 1 for r in rets], dtype=np.int64),
        ret_frac_bounds=frac_bounds,
        ret_frac_values=frac_values.astype(np.float64),
        cat_alias=Alias.build([_cdf_weights(s.categories, strings) for s in pop.segments]),
        chan_alias=Alias.build([_cdf_weights(s.channels, strings) for s in pop.segments]),
    )



@dataclass
class Traits:
    n: int  # slots (customers + pool)
    n_customers: int
    seg: np.ndarray
    q0: np.ndarray  # float32 daily purchase probability
    p_drop: np.ndarray  # float32 BG/NBD dropout per purchase (0 for Pareto/NBD)
    death_day: np.ndarray | None  # Pareto/NBD: day of death
    nu: np.ndarray  # float64 spend rate
    bday_doy: np.ndarray  # int16 day of a non-leap year, -1 unknown
    enroll_day: np.ndarray  # int32, NEVER when not a member (pool slots too)
    pool: np.ndarray  # bool: a spare slot for a referred newcomer
    satisfaction: np.ndarray  # float32 latent score 0..10
    attributes: dict[str, np.ndarray] = field(default_factory=dict)  # raw values (object or numeric)
    # dated events: sorted by (day, customer)
    ev_day: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    ev_cust: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    ev_kind: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))
    ev_fields: dict[str, np.ndarray] = field(default_factory=dict)
    ref_day: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    ref_cust: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    # customers with a past (`simulator.model.history_traits`); None: every customer new, alive, no balance
    alive: np.ndarray | None = None  # bool: alive at the start
    member_before: np.ndarray | None = None  # bool: a member before the first day (no signup event)
    opening: np.ndarray | None = None  # int64 opening balance (points)
    start_tier: np.ndarray | None = None  # object: tier name at the start ("" none)


def _pick(u: np.ndarray, choice: Choice) -> np.ndarray:
    cdf = np.cumsum(np.array(choice.weights))
    cdf[-1] = 1.0
    i = np.searchsorted(cdf, u, side="right")
    return np.array(choice.values, dtype=object)[np.minimum(i, len(choice.values) - 1)]


class TraitStreams:
    """One random stream per trait of a block's customers (or of its spare slots: `group` 1),
    keyed by (seed, trial, block, 3 + group, trait). A trait's values depend only on its own
    parameters: changing, say, the dropout of a segment redraws the dropout of its customers and
    nothing else (their purchase rates, spend, birthdays, and the day-by-day draws stay)."""

    def __init__(self, seed: int, trial: int, block: int, group: int = 0):
        self.key = (trial, block, 3 + group)
        self.seed = seed

    def __call__(self, trait: str) -> np.random.Generator:
        key = (*self.key, zlib.crc32(trait.encode("utf-8")))
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence(self.seed, spawn_key=key)))


def _customer_traits(pop: Population, tables: SegmentTables, streams: TraitStreams, n: int,
                     seg: np.ndarray | None = None, aged: bool = True) -> dict:
    """Latent traits of `n` customer slots, each trait from its own stream (segments drawn from
    the shares unless given; with drawn segments, a segment `age:` starts customers part-way
    through their life, `simulator.model.history_traits.aged_state`)."""
    given = seg is not None
    if seg is None:
        shares = np.cumsum([s.share for s in pop.segments])
        shares[-1] = 1.0
        seg = np.minimum(np.searchsorted(shares, streams("segment").random(n), side="right"), len(pop.segments) - 1).astype(np.int16)
    r = np.array([s.r for s in pop.segments])[seg]
    alpha = np.array([s.alpha_days for s in pop.segments])[seg]
    lam = streams("purchase").gamma(r, 1.0 / alpha)
    q0 = np.minimum(lam, 1.0).astype(np.float32)
    if pop.model == "bgnbd":
        a = np.array([s.a for s in pop.segments])[seg]
        b = np.array([s.b for s in pop.segments])[seg]
        p_drop = streams("dropout").beta(a, b).astype(np.float32)
        death = life = None
    else:
        s_ = np.array([s.s for s in pop.segments])[seg]
        beta = np.array([s.beta_days for s in pop.segments])[seg]
        rng = streams("lifetime")
        mu = rng.gamma(s_, 1.0 / beta)
        life = rng.exponential(1.0, n) / np.maximum(mu, 1e-300)
        p_drop = np.zeros(n, dtype=np.float32)
    alive = None
    if aged and not given:
        alive, life = aged_state(pop, seg, lam, p_drop, life, streams("age"))
    if pop.model != "bgnbd":
        death = np.minimum(life, float(NEVER)).astype(np.int32)
    if alive is not None:
        q0 = np.where(alive, q0, 0.0).astype(np.float32)
    q = np.array([s.spend_q for s in pop.segments])[seg]
    gamma = np.array([s.spend_gamma for s in pop.segments])[seg]
    nu = streams("spend").gamma(q, 1.0 / gamma)
    rng = streams("birthday")
    known = rng.random(n) < np.array([s.birthday_known for s in pop.segments])[seg]
    doy = rng.integers(0, 365, n).astype(np.int16)
    doy[~known] = -1
    rng = streams("enrollment")
    enroll_u = rng.random(n)
    ramp = np.array([s.enroll_ramp_days for s in pop.segments])[seg]
    ramp_u = rng.random(n)
    enroll = np.where(enroll_u < np.array([s.enroll_share for s in pop.segments])[seg],
                      np.floor(ramp_u * ramp).astype(np.int64), int(NEVER)).astype(np.int32)
    sat = np.clip(streams("satisfaction").normal(pop.response.satisfaction_mean, pop.response.satisfaction_sd, n), 0.0, 10.0).astype(np.float32)
    attrs: dict[str, np.ndarray] = {}
    for name in tables.attr_names:
        u = streams("attribute:" + name).random(n)
        values = np.empty(n, dtype=object)
        values[:] = None
        for i, s in enumerate(pop.segments):
            ch = dict(s.attributes).get(name)
            m = seg == i
            if ch is not None and m.any():
                values[m] = _pick(u[m], ch)
        attrs[name] = values
    return {"seg": seg, "q0": q0, "p_drop": p_drop, "death_day": death, "nu": nu, "bday_doy": doy,
            "enroll_day": enroll, "satisfaction": sat, "attributes": attrs, "alive": alive}


# values of the history traits for customers without a past (spare slots, synthetic new customers)
HISTORY_DEFAULTS = {"alive": (bool, True), "member_before": (bool, False), "opening": (np.int64, 0),
                    "start_tier": (object, "")}


def _fill(v: np.ndarray | None, key: str, n: int) -> np.ndarray:
    if v is not None:
        return v
    dtype, value = HISTORY_DEFAULTS[key]
    return np.full(n, value, dtype=dtype)


def _join(a: dict, b: dict) -> dict:
    out = {}
    na, nb = a["seg"].size, b["seg"].size
    for k, v in a.items():
        if k == "attributes":
            out[k] = {name: np.concatenate([v[name], b[k].get(name, np.full(nb, None, dtype=object))]) for name in v}
        elif k in HISTORY_DEFAULTS:
            w = b.get(k)
            out[k] = None if v is None and w is None else np.concatenate([_fill(v, k, na), _fill(w, k, nb)])
        elif v is None:
            out[k] = None
        else:
            out[k] = np.concatenate([v, b[k]])
    return out


def draw_block(pop: Population, tables: SegmentTables, seed: int, trial: int, block: int, n_customers: int,
               days: int, side_rng: np.random.Generator, start: dt.date | None = None) -> Traits:
    """One block's traits (`_draw_block`); within `share_draws()`, drawn once per process for equal
    draw inputs (`draw_key`) and handed out as copies, with `side_rng` left where the draw leaves it."""
    cache = _shared
    key = draw_key(pop, tables, seed, trial, block, n_customers, days, start) if cache is not None else None
    if cache is None or key is None:
        return _draw_block(pop, tables, seed, trial, block, n_customers, days, side_rng, start)
    before = side_rng.bit_generator.state
    found = cache.get(key, before)
    if found is not None:
        traits, after = found
        side_rng.bit_generator.state = after
        return copy_traits(traits)
    traits = _draw_block(pop, tables, seed, trial, block, n_customers, days, side_rng, start)
    cache.put(key, before, traits, side_rng.bit_generator.state)
    return copy_traits(traits)


def _draw_block(pop: Population, tables: SegmentTables, seed: int, trial: int, block: int, n_customers: int,
                days: int, side_rng: np.random.Generator, start: dt.date | None = None) -> Traits:
    """Draw one block's traits (documented in the module docstring).

    The customers' traits come from their trait streams (`TraitStreams`, group 0), the spare
    slots' from group 1, custom events from group 2 (one stream per event), and the referrals
    from `side_rng`: the block's day-by-day stream 0 is not touched here, so no population
    setting moves the draws the baseline arm makes day by day.
    Spare slots: as many as the block's drawn referrals (so they cannot run out), at most
    `referral_pool` × the block's customers."""
    streams = TraitStreams(seed, trial, block)
    if pop.customers is not None:  # an existing base: the block's rows of the customers file
        rows = pop.customers.block(block)
        base = history_traits(pop, _customer_traits(pop, tables, streams, n_customers, seg=rows.seg), rows,
                              streams, start)
    else:
        base = _customer_traits(pop, tables, streams, n_customers)
    rng = side_rng
    # referrals that become customers: intents × action rate × conversion (customers only refer)
    ref_rate = (np.array([s.refer_per_day for s in pop.segments])[base["seg"]]
                * pop.response.referral_action_rate * pop.response.referral_conversion)
    rcount = rng.poisson(ref_rate * days)
    ref_cust = np.repeat(np.arange(n_customers), rcount)
    ref_day = rng.integers(0, days, ref_cust.size).astype(np.int32)
    cap = int(np.ceil(n_customers * pop.referral_pool)) if pop.referral_pool > 0 else 0
    n_pool = min(ref_cust.size, cap)
    t = _join(base, _customer_traits(pop, tables, TraitStreams(seed, trial, block, group=1), n_pool, aged=False)) if n_pool else base
    events = TraitStreams(seed, trial, block, group=2)
    n = n_customers + n_pool
    seg = t["seg"]
    pool = np.zeros(n, dtype=bool)
    pool[n_customers:] = True
    enroll = t["enroll_day"]
    enroll[pool] = NEVER
    # custom events: Poisson counts over the horizon, uniform days (newcomers' slots too)
    ev_days, ev_custs, ev_kinds = [], [], []
    for k, name in enumerate(tables.event_names):
        rate = np.array([dict(s.events).get(name).rate_per_day if name in dict(s.events) else 0.0
                         for s in pop.segments])[seg]
        ev_rng = events("event:" + name)
        counts = ev_rng.poisson(rate * days)
        cust = np.repeat(np.arange(n), counts)
        day = ev_rng.integers(0, days, cust.size).astype(np.int32)
        ev_days.append(day)
        ev_custs.append(cust)
        ev_kinds.append(np.full(cust.size, k, dtype=np.int16))
    total = sum(c.size for c in ev_custs)
    ev_day = np.concatenate(ev_days) if ev_days else np.zeros(0, np.int32)
    ev_cust = np.concatenate(ev_custs) if ev_custs else np.zeros(0, np.int64)
    ev_kind = np.concatenate(ev_kinds) if ev_kinds else np.zeros(0, np.int16)
    order = np.lexsort((ev_kind, ev_cust, ev_day))
    ev_day, ev_cust, ev_kind = ev_day[order], ev_cust[order], ev_kind[order]
    # field values of each custom event, by the event's segment model
    fields_u = events("event fields").random(total) if total else np.zeros(0)
    fields: dict[str, np.ndarray] = {}
    for k, name in enumerate(tables.event_names):
        sel = np.flatnonzero(ev_kind == k)
        for i, s in enumerate(pop.segments):
            model = dict(s.events).get(name)
            if model is None:
                continue
            rows = sel[seg[ev_cust[sel]] == i]
            for fname, ch in model.fields:
                arr = fields.setdefault(fname, np.full(total, None, dtype=object))
                arr[rows] = _pick(fields_u[rows], ch)
    rorder = np.lexsort((ref_cust, ref_day))
    return Traits(n, n_customers, seg, t["q0"], t["p_drop"], t["death_day"], t["nu"], t["bday_doy"], enroll,
                  pool, t["satisfaction"], t["attributes"], ev_day, ev_cust, ev_kind, fields,
                  ref_day[rorder], ref_cust[rorder], **{k: t.get(k) for k in HISTORY_DEFAULTS})


def concat_traits(parts: list[Traits]) -> tuple[Traits, np.ndarray]:
    """Join block traits into one chunk; returns it and the slot offset of each block."""
    offsets = np.cumsum([0] + [p.n for p in parts])
    if len(parts) == 1:
        return parts[0], offsets

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts])

    def cat_shift(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) + off for p, off in zip(parts, offsets)])

    ev_day, ev_cust, ev_kind = cat("ev_day"), cat_shift("ev_cust"), cat("ev_kind")
    fnames = sorted({f for p in parts for f in p.ev_fields})
    fields = {}
    for f in fnames:
        fields[f] = np.concatenate([p.ev_fields.get(f, np.full(p.ev_day.size, None, dtype=object)) for p in parts])
    order = np.lexsort((ev_kind, ev_cust, ev_day))
    ref_day, ref_cust = cat("ref_day"), cat_shift("ref_cust")
    rorder = np.lexsort((ref_cust, ref_day))
    death = cat("death_day") if parts[0].death_day is not None else None
    attrs = {k: np.concatenate([p.attributes[k] for p in parts]) for k in parts[0].attributes}
    history = {k: (None if all(getattr(p, k) is None for p in parts)
                   else np.concatenate([_fill(getattr(p, k), k, p.n) for p in parts])) for k in HISTORY_DEFAULTS}
    t = Traits(int(offsets[-1]), sum(p.n_customers for p in parts), cat("seg"), cat("q0"), cat("p_drop"), death,
               cat("nu"), cat("bday_doy"), cat("enroll_day"), cat("pool"), cat("satisfaction"), attrs,
               ev_day[order], ev_cust[order], ev_kind[order], {f: v[order] for f, v in fields.items()},
               ref_day[rorder], ref_cust[rorder], **history)
    return t, offsets


# ---------------------------------------------------------------- one draw for the variants of a what-if run

# What `_draw_block` never reads (the day loop and the segment tables do): variants of a what-if run
# that differ only in these draw the same traits. Every other field of the population takes part in
# `draw_key`, so a field added later is shared only once it is listed here
# (tests/whatif/test_shared_draws.py checks that changing each of these leaves the draw unchanged).
NOT_DRAWN_RESPONSE = ("goal_gradient", "post_reward_lift", "post_reward_days", "heavy_buyer_damping",
                      "tier_dropout_reduction", "downgrade_dropout_increase", "perk_use_rate", "satisfaction",
                      "satisfaction_redeem_boost", "satisfaction_tier_boost")
NOT_DRAWN_SEGMENT = ("categories", "channels", "items_mean", "quantity_mean", "lines", "shipping_cents", "redeem",
                     "voucher_use", "returns", "uncertainty")
SHARED_DRAW_BYTES = 32 << 20  # the traits a process keeps for later variants (least recently used dropped first)


def draw_key(pop: Population, tables: SegmentTables, seed: int, trial: int, block: int, n_customers: int,
             days: int, start: dt.date | None) -> tuple | None:
    """What one block's draw depends on: `pop` without the fields it never reads (`NOT_DRAWN_*`, the
    economics), its customers file as (digest, rows, how the run's customers are taken), and the
    draw's arguments. None when the population holds customers not given as a task's rows."""
    rows = pop.customers
    if rows is not None and not isinstance(rows, ChunkRows):
        return None
    customers = None if rows is None else (rows.digest, rows.size, rows.customers, rows.seed, rows.block_size)
    plain_resp, plain_seg = Response(), _segment_defaults()
    view = replace(pop, customers=customers, economics=Economics(),
                   response=replace(pop.response, **{f: getattr(plain_resp, f) for f in NOT_DRAWN_RESPONSE}),
                   segments=tuple(replace(s, **plain_seg) for s in pop.segments))
    return (view, tables.attr_names, tables.event_names, seed, trial, block, n_customers, days, start)


def _segment_defaults() -> dict:
    return {f.name: f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
            for f in fields(Segment) if f.name in NOT_DRAWN_SEGMENT}


def _equal(a: tuple, b: tuple) -> bool:
    try:
        return bool(a == b)
    except Exception:  # a field whose == is not a truth value (arrays): treat as different
        return False


def _nbytes(t: Traits) -> int:
    total = 0
    for v in vars(t).values():
        if isinstance(v, np.ndarray):
            total += v.nbytes
        elif isinstance(v, dict):
            total += sum(a.nbytes for a in v.values())
    return total


def copy_traits(t: Traits) -> Traits:
    """A copy of `t` whose arrays the day loop may change without changing `t`."""
    out = {}
    for k, v in vars(t).items():
        if isinstance(v, np.ndarray):
            v = v.copy()
        elif isinstance(v, dict):
            v = {name: a.copy() for name, a in v.items()}
        out[k] = v
    return Traits(**out)


class SharedDraws:
    """The traits drawn in this process, by `draw_key` and the side stream's state before the draw;
    at most `max_bytes` of them. When full, the least recently used draw that was never reused goes
    first (a variant's own customers, drawn once), then the least recently used one: the draw most
    variants share stays."""

    def __init__(self, max_bytes: int = SHARED_DRAW_BYTES):
        self.max_bytes = max_bytes
        self.entries: list[list] = []  # [key, state before, traits, state after, bytes, reuses], most recent first
        self.draws = self.reused = 0

    def get(self, key: tuple, before: dict) -> tuple[Traits, dict] | None:
        for i, entry in enumerate(self.entries):
            if entry[1] == before and _equal(entry[0], key):
                entry[5] += 1
                self.entries.insert(0, self.entries.pop(i))
                self.reused += 1
                return entry[2], entry[3]
        return None

    def put(self, key: tuple, before: dict, traits: Traits, after: dict) -> None:
        self.draws += 1
        size = _nbytes(traits)
        if size > self.max_bytes:
            return
        self.entries.insert(0, [key, before, traits, after, size, 0])
        while sum(e[4] for e in self.entries) > self.max_bytes:
            unused = [i for i, e in enumerate(self.entries) if e[5] == 0 and i > 0]
            self.entries.pop(unused[-1] if unused else -1)


_shared: SharedDraws | None = None


def share_draws(on: bool = True) -> SharedDraws | None:
    """Draw each block once per process for the variants of a what-if run (`draw_block`), or stop
    (dropping what is kept); returns the process's `SharedDraws` (None when off)."""
    global _shared
    if not on:
        _shared = None
    elif _shared is None:
        _shared = SharedDraws()
    return _shared
