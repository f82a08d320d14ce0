"""Traits of customers with a past: part-way through their life when the simulation starts.

Takes: a `Population`, a block's prior traits (drawn by `simulator.model.draws` from the segment
distributions) and either the segment `age:` models or the block's rows of the customers file
(`simulator.model.customers_file.BlockRows`), with the block's trait streams. Gives: the traits
changed so that each customer starts in a state consistent with their history:

Synthetic ages (`aged_state`, segment `age:`): a customer of age T (time since the first
purchase) has drawn λ, p (or μ) from the prior; their state at T is drawn from the model itself:
- BG/NBD: the dropout comes after a repeat purchase with probability p each, so the time of
  death after the first purchase is Exp(λ·p) (a geometric number of Exp(λ) gaps); the customer
  is alive at T when that time exceeds T, and then carries on with the same λ, p (the model is
  memoryless: the next dropout again comes after a purchase).
- Pareto/NBD: the lifetime τ ~ Exp(μ) from the first purchase; alive when τ > T, and the
  remaining lifetime is τ − T (again Exp(μ)).
No purchase of the prior period is recorded: those customers start with no points or tier.

Customers file (`history_traits`): each customer's traits come from their posterior given their
own (x, t_x, T) and mean spend, under the trial's segment parameters, via the statistics core
`simulator.model.estimation` (`bgnbd.posterior_draw` -> alive, λ, p; `pareto_nbd.posterior_draw` -> alive, λ, μ,
then a remaining lifetime Exp(μ); `gamma_gamma.posterior_draw` -> ν given the spend). A dead
customer never purchases. Birthdays, signup dates and attributes come from the file where it has
them (else from the segment, as for a synthetic customer); a customer with a balance or a tier,
or a signup date before the first simulated day, is already a member (no `signup` event) and starts
with that balance and tier (see `simulator.engine.day_loop` for the opening balance in the ledger).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Callable

import numpy as np

from simulator.model.customers_file import NO_DATE, BlockRows

if TYPE_CHECKING:
    from simulator.model.population import Population

NEVER = 2**30  # = simulator.model.draws.NEVER


def aged_state(pop: "Population", seg: np.ndarray, lam_day: np.ndarray, p_drop: np.ndarray,
               life_days: np.ndarray | None, rng: np.random.Generator) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(alive at the start or None when every customer is new, Pareto/NBD remaining lifetime in days)."""
    models = [s.age for s in pop.segments]
    if all(m is None or m.all_new for m in models):
        return None, life_days
    n = seg.size
    age_days = np.zeros(n)
    for i, m in enumerate(models):
        sel = np.flatnonzero(seg == i)
        if m is not None and sel.size:
            age_days[sel] = m.draw(rng, sel.size) * pop.days_per_unit
    if life_days is None:  # BG/NBD: death time after the first purchase ~ Exp(λ p)
        death = rng.exponential(1.0, n)
        alive = death > lam_day * p_drop.astype(np.float64) * age_days
        return alive, None
    alive = life_days > age_days
    return alive, np.where(alive, life_days - age_days, 0.0)


def _fit():
    from simulator.model.estimation import bgnbd, gamma_gamma, pareto_nbd  # the statistics core (TRANSACTIONS_API.md)

    return bgnbd, pareto_nbd, gamma_gamma


def history_traits(pop: "Population", t: dict, rows: BlockRows, streams: Callable[[str], np.random.Generator],
                   start: dt.date | None) -> dict:
    """Replace the prior traits `t` of a block's customers by their posterior ones (module docstring)."""
    bgnbd, pareto_nbd, gamma_gamma = _fit()
    per_day = pop.days_per_unit
    n = rows.seg.size
    alive = np.ones(n, dtype=bool)
    lam = np.zeros(n)
    drop = np.zeros(n)
    nu = np.zeros(n)
    rng, spend_rng = streams("posterior"), streams("posterior spend")
    for i, s in enumerate(pop.segments):
        sel = np.flatnonzero(rows.seg == i)
        if sel.size == 0:
            continue
        x, t_x, T = rows.x[sel], rows.t_x[sel], rows.T[sel]
        if pop.model == "bgnbd":
            a_, l_, d_ = bgnbd.posterior_draw((s.r, s.alpha_days / per_day, s.a, s.b), x, t_x, T, rng)
        else:
            a_, l_, d_ = pareto_nbd.posterior_draw((s.r, s.alpha_days / per_day, s.s, s.beta_days / per_day),
                                                   x, t_x, T, rng)
        alive[sel], lam[sel], drop[sel] = np.asarray(a_, dtype=bool), l_, d_
        nu[sel] = gamma_gamma.posterior_draw((s.spend_p, s.spend_q, s.spend_gamma), rows.spend_count[sel],
                                             rows.mean_spend[sel], spend_rng)
    out = dict(t)
    out["seg"] = rows.seg.astype(np.int16)
    out["q0"] = np.where(alive, np.minimum(lam / per_day, 1.0), 0.0).astype(np.float32)
    out["alive"] = alive
    out["nu"] = nu
    if pop.model == "bgnbd":
        out["p_drop"] = drop.astype(np.float32)
        out["death_day"] = None
    else:  # remaining lifetime of the living ~ Exp(μ) (memoryless); the dead are dead from day 0
        mu_day = np.maximum(drop / per_day, 1e-300)
        life = streams("posterior lifetime").exponential(1.0, n) / mu_day
        out["death_day"] = np.where(alive, np.minimum(life, float(NEVER)), 0.0).astype(np.int32)
        out["p_drop"] = np.zeros(n, dtype=np.float32)
    if rows.birthday is not None:
        out["bday_doy"] = rows.birthday.astype(np.int16)
    member_before = np.zeros(n, dtype=bool)
    enroll = out["enroll_day"].copy()
    if rows.signup is not None and start is not None:
        known = rows.signup != NO_DATE
        day = rows.signup.astype(np.int64) - (start - dt.date(1970, 1, 1)).days
        member_before |= known & (day <= 0)
        later = known & (day > 0)
        enroll[later] = np.minimum(day[later], NEVER)
    if rows.balance is not None:
        member_before |= rows.balance > 0
    if rows.tier is not None:
        member_before |= rows.tier >= 0
    enroll[member_before] = 0
    out["enroll_day"] = enroll.astype(np.int32)
    out["member_before"] = member_before
    out["opening"] = (np.where(member_before, rows.balance, 0).astype(np.int64)
                      if rows.balance is not None else None)
    if rows.tier is not None:
        names = np.array(list(rows.tier_names) + [""], dtype=object)
        out["start_tier"] = names[np.where(rows.tier >= 0, rows.tier, len(rows.tier_names))]
    attrs = dict(out["attributes"])
    attrs.update(rows.attributes)
    out["attributes"] = attrs
    return out


__all__ = ["aged_state", "history_traits"]
