"""The @njit day pass: one block's daily uniforms, buyers, baskets, returns and both arms' month metrics.

Takes: one block's Generators (stream 0, 1, 2 and, when the program reads `quantity`, 3), the
chunk's per-customer arrays (q_max, q_base, q_prog, death days, segments, spend rates, dropout
chances, visit codes, enrolment days, alive flags, running revenue per customer), the segment
tables of `simulator.model.draws.SegmentTables` and preallocated buffers (rows of the day's buyers).
Gives: the buffers filled from the row `cnt[0]` on, `cnt` moved on, `metrics` increased, and the
baseline arm's churn applied; exactly what `ChunkSim._purchases` / `ChunkSim._basket`
(simulator.engine.day_loop) compute with numpy for the block, bit for bit, with every Generator
left in the same state. `churn` is the program arm's BG/NBD churn over the day's buyers, run
after the program's purchase steps (it reads the tier they leave).

Draws, per block, in this order on each stream (the numpy path's order):
- stream 0: one float32 uniform per customer of the block (its own slots), then for the buyers
  who buy at the baseline rate (u < q_base), in customer order: spend (gamma), then the K action
  uniforms buyer by buyer (row-major), then items (Poisson, only when a segment has items_mean > 1);
- stream 1: the same three for the program arm's other buyers (the block's own slots);
- stream 2 (side): one uniform per spare slot (referred newcomers), then the same three for the
  spare slots' buyers;
- stream 3: `quantity` (Poisson of the segment's mean) of every buyer of the block in customer
  order, only when the program reads it.
Streams are separate Generators, so drawing buyer by buyer and switching between streams gives
each stream the same sequence as numpy's vectorized calls on it.
"""

from __future__ import annotations

import numpy as np

from simulator.kernel.cache import setup

setup()

from numba import njit  # noqa: E402

# metrics[...] slots, added by the day loop to the month's metrics
(M_BASE_REV, M_BASE_BUY, M_BASE_ACTIVE, M_BASE_CHURN, M_PROG_REV, M_PROG_BUY, M_PROG_ACTIVE) = range(7)
N_METRICS = 7
# cnt[...] slots: rows filled in the buffers
(C_ROWS, C_IB, C_IP, C_MI, C_RET) = range(5)
N_COUNTS = 5


@njit(cache=True, inline="always", error_model="numpy")
def _pick(k, prob, first, second, s, u):
    """`simulator.model.draws.Alias.pick` for one buyer, in its float arithmetic."""
    x = np.float64(u) * k
    j = np.int64(x)
    if x - j < prob[s, j]:
        return first[s, j]
    return second[s, j]


@njit(cache=True, inline="always", error_model="numpy")
def _visit(codes, c, mo):
    """Book a purchase of customer c in month `mo` (`day_loop._visit`); 1 when new this month."""
    v = codes[c]
    fresh = 1 if (v >> 2) != mo else 0
    n = (v & 3) + 1
    if n > 2:
        n = 2
    codes[c] = np.int16((mo << 2) | n)
    return fresh


@njit(cache=True, error_model="numpy")
def _select(rng, lo, hi, day, q_max, death_day, has_death, U, uU, m):
    """One float32 uniform per customer lo..hi from `rng`; the buyers (u < q_max, alive by their
    death day) go to U/uU from row m on. Returns the next free row."""
    for c in range(lo, hi):
        x = rng.random(dtype=np.float32)
        if x < q_max[c] and (not has_death or death_day[c] > day):
            U[m] = c
            uU[m] = x
            m += 1
    return m


@njit(cache=True, error_model="numpy")
def _draws(rng, g, part, m0, m1, U, seg, spend_p, items_any, items_mean, z, uni, items):
    """The basket draws of rows m0..m1 whose stream is `g`, from `rng`: spend (gamma), then the
    action uniforms row-major, then items (Poisson)."""
    K = uni.shape[1]
    for r in range(m0, m1):
        if part[r] == g:
            z[r] = rng.standard_gamma(spend_p[seg[U[r]]])
    for r in range(m0, m1):
        if part[r] == g:
            for k in range(K):
                uni[r, k] = rng.random(dtype=np.float32)
    if items_any:
        for r in range(m0, m1):
            if part[r] == g:
                items[r] = 1 + rng.poisson(items_mean[seg[U[r]]] - 1.0)
    else:
        for r in range(m0, m1):
            if part[r] == g:
                items[r] = 1


@njit(cache=True, error_model="numpy")
def day_block(rng0, rng1, rng2, rng3, lo, mid, hi, day, mo, select, n_sel,
              q_max, q_base, q_prog, death_day, has_death, seg, spend_p, nu,
              items_any, items_mean, quantity_on, quantity_mean,
              cat_k, cat_prob, cat_first, cat_second, chan_k, chan_prob, chan_first, chan_second,
              ship_any, ship_tab, returns_on, ret_rate, ret_delay_min, ret_delay_span, ret_frac_bounds,
              ret_frac_values, n_days, bgnbd, p_drop, alive_b, visit_b, visit_p, enroll, flows_on, rev_b, rev_p,
              cnt, U, uU, z, part, amount, shipping, cat, chan, items, quantity, uni, ib, ip, mem_p, mi,
              ret_rows, ret_due, ret_returned, metrics):
    """One block's day (customers lo..mid from stream 0, spare slots mid..hi from the side stream).
    `select`: draw the uniforms and choose the buyers into U/uU from row cnt[0]; returns
    -(buyers) - 1 (and stops) when the basket buffers (capacity amount.size) cannot hold them: the
    caller grows them and calls again with select False and `n_sel` the block's buyers already in
    U. Returns the block's buyers."""
    m0 = cnt[C_ROWS]
    if select:
        m = _select(rng0, lo, mid, day, q_max, death_day, has_death, U, uU, m0)
        m = _select(rng2, mid, hi, day, q_max, death_day, has_death, U, uU, m)
        n_sel = m - m0
        if m > amount.size:
            return -n_sel - 1
    m1 = m0 + n_sel
    if n_sel == 0:
        return 0
    # which stream each buyer's basket comes from: 0 baseline buyers, 1 the program's other
    # buyers, 2 spare slots
    for r in range(m0, m1):
        c = U[r]
        if uU[r] < q_base[c]:
            part[r] = 0
        elif c < mid:
            part[r] = 1
        else:
            part[r] = 2
    # one stream at a time (a loop that switches Generators per row runs several times slower)
    _draws(rng0, 0, part, m0, m1, U, seg, spend_p, items_any, items_mean, z, uni, items)
    _draws(rng1, 1, part, m0, m1, U, seg, spend_p, items_any, items_mean, z, uni, items)
    _draws(rng2, 2, part, m0, m1, U, seg, spend_p, items_any, items_mean, z, uni, items)
    if quantity_on:  # after every other draw, from its own stream
        for r in range(m0, m1):
            quantity[r] = rng3.poisson(quantity_mean[seg[U[r]]])
    ncols = ship_tab.shape[1]
    nib, nip, nmi, nret = cnt[C_IB], cnt[C_IP], cnt[C_MI], cnt[C_RET]
    nfv = ret_frac_values.size
    for r in range(m0, m1):
        c = U[r]
        s = seg[c]
        a = np.int64(np.rint(z[r] * (100.0 / nu[c])))
        if a < 1:
            a = 1
        ct = cat_first[s, 0] if cat_k == 1 else _pick(cat_k, cat_prob, cat_first, cat_second, s, uni[r, 0])
        ch = chan_first[s, 0] if chan_k == 1 else _pick(chan_k, chan_prob, chan_first, chan_second, s, uni[r, 1])
        cat[r] = ct
        chan[r] = ch
        sh = 0
        if ship_any:
            sh = ship_tab[s, min(ch, ncols - 1)]
            a += sh
        shipping[r] = sh
        amount[r] = a
        if returns_on and uni[r, 5] < ret_rate[s]:
            due = day + ret_delay_min[s] + np.int64(np.float64(uni[r, 7]) * np.float64(ret_delay_span[s]))
            if due < n_days:  # returns after the last simulated day are not simulated
                x = np.float64(s) + np.float64(uni[r, 6])
                pick = np.searchsorted(ret_frac_bounds, x, side="right")
                frac = ret_frac_values[min(pick, nfv - 1)]
                if frac >= 1.0:
                    back = a
                else:
                    v = np.floor(np.float64(a) * frac)
                    if v < 1.0:
                        v = 1.0
                    if v > a:
                        v = np.float64(a)
                    back = np.int64(v)
                ret_rows[nret] = r
                ret_due[nret] = due
                ret_returned[nret] = back
                nret += 1
        uc = uU[r]
        if part[r] == 0:  # the baseline arm
            ib[nib] = r
            nib += 1
            metrics[M_BASE_REV] += a
            metrics[M_BASE_BUY] += 1
            if flows_on:
                rev_b[c] += a
            metrics[M_BASE_ACTIVE] += _visit(visit_b, c, mo)
            if bgnbd and uni[r, 2] < p_drop[c]:
                alive_b[c] = False
                q_base[c] = 0.0
                q_max[c] = q_prog[c]
                metrics[M_BASE_CHURN] += 1
        if uc < q_prog[c]:  # the program arm
            ip[nip] = r
            metrics[M_PROG_REV] += a
            metrics[M_PROG_BUY] += 1
            if flows_on:
                rev_p[c] += a
            metrics[M_PROG_ACTIVE] += _visit(visit_p, c, mo)
            if enroll[c] <= day:
                mi[nmi] = r
                nmi += 1
                mem_p[nip] = True
            else:
                mem_p[nip] = False
            nip += 1
    cnt[C_ROWS] = m1
    cnt[C_IB], cnt[C_IP], cnt[C_MI], cnt[C_RET] = nib, nip, nmi, nret
    return n_sel


@njit(cache=True, error_model="numpy")
def churn(ip, mem_p, nip, U, uU, uni, p_drop, q0, tier, downgraded, dropout_tiers, reduction, increase, ntiers,
          alive_p, q_prog, q_max, q_base):
    """The program arm's BG/NBD dropout of the day's buyers (rows ip[:nip] of U; mem_p: members),
    as `ChunkSim._purchases` computes it: only purchases at the customer's own rate (u < q0) carry
    the chance; the dropout factors of a member's tier and downgrade. Returns how many drop out."""
    worst = np.float32(1.0 + increase)
    plain = not (dropout_tiers or increase != 0.0)
    out = 0
    for j in range(nip):
        r = ip[j]
        c = U[r]
        x = uni[r, 2]
        pd = p_drop[c]
        if not (x < pd * worst and uU[r] < q0[c]):
            continue
        if plain:
            gone = x < pd
        else:
            p = np.float64(pd)
            member = mem_p[j]
            if dropout_tiers:
                t = tier[c] if member else 0
                p = p * (1.0 - reduction * np.float64(t) / np.float64(ntiers - 1))
            if increase != 0.0:
                p = p * (1.0 + increase * (1.0 if (downgraded[c] and member) else 0.0))
            gone = x < p
        if gone:
            alive_p[c] = False
            q_prog[c] = 0.0
            q_max[c] = q_base[c]
            out += 1
    return out
