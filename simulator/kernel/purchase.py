"""The @njit kernel: one day's purchases of the program arm, customer after customer.

Takes: the batch (customers, amounts, shipping, categories, the condition columns), the day's
values, `KernelTables` arrays and the program arm's state arrays. Gives: the state updated in
place exactly as `ProgramArm.apply("purchase", ...)` updates it, and per customer the points
issued, the discount, the tier-metric increment, the points that repaid a debt, each counter's
increment and each balance's points. The steps are those of docs/semantics.md
§4.2 in the numpy path's order (candidates, skips, counter increments, discounts, rate awards, tier
multiplier, rule multipliers, fixed awards, caps, global budgets, lots and balances, activity,
counters and metric, status dates, upgrade); a rule that awards a balance beside the points keeps
its own rate, stays out of R, and books its points to the balance, not to a lot. A purchase with
drawn lines (`has_lines`: (k, L) amounts, categories, quantities, valid slots, line attributes)
takes its bases per line as `simulator.engine.lines` does (exclusions and `in category` per line,
shares of the shipping and of the discounts in whole cents), and `any line` conditions per line;
without lines a purchase is one line. Only global budgets couple customers: the kernel takes the
batch's customers one after the other in batch order (the documented order, docs/simulator.md §6)
and spends what is left of each budget (`budget_left`) as it goes, which is what the numpy path's
`_apply_in_turn` gives. No random numbers are drawn here (see the package docstring).
The loop is bound by memory latency (about 20 state arrays read at each customer's index), so it
asks the CPU to prefetch the state of the customer `AHEAD` purchases on (a hint: no effect on results).
"""

from __future__ import annotations

import numpy as np

from simulator.kernel.cache import setup

setup()

from llvmlite import ir as llir  # noqa: E402
from numba import njit, types  # noqa: E402
from numba.core import cgutils  # noqa: E402
from numba.extending import intrinsic  # noqa: E402

AHEAD = 8  # customers ahead whose state rows are prefetched


@intrinsic
def _prefetch(typingctx, arr, row, col):
    """A hint to the CPU to fetch arr[row, col] (2-D) into the cache; no effect on the results."""
    sig = types.void(arr, row, col)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1], args[2]], wraparound=False)
        i8p = llir.IntType(8).as_pointer()
        i32 = llir.IntType(32)
        fn = cgutils.get_or_insert_function(builder.module, llir.FunctionType(llir.VoidType(), [i8p, i32, i32, i32]),
                                            "llvm.prefetch.p0i8")
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(1), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _prefetch1(typingctx, arr, col):
    """A hint to the CPU to fetch arr[col] (1-D) into the cache; no effect on the results."""
    sig = types.void(arr, col)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]], wraparound=False)
        i8p = llir.IntType(8).as_pointer()
        i32 = llir.IntType(32)
        fn = cgutils.get_or_insert_function(builder.module, llir.FunctionType(llir.VoidType(), [i8p, i32, i32, i32]),
                                            "llvm.prefetch.p0i8")
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(1), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen

# prog[...] slots (KernelTables + the state layout, packed by `dispatch`)
(P_D, P_ROUND, P_ADD, P_ANYDISC, P_TMULT, P_TDISC, P_METRIC, P_ACT_EARN, P_ACT_BUY, P_COUNT_BUY, P_PEND,
 P_RING, P_RING_SIZE, P_DEBT, P_WIN_ROW, P_MAX_EVENT, P_NGROUPS, P_NINACT, P_METRIC_OF, P_NONE) = range(20)
PROG_SLOTS = 20


@njit(cache=True, inline="always", error_model="numpy")
def _round_div(num, den, mode):
    if den == 1:
        return num
    if mode == 0:
        return num // den
    if mode == 1:
        return -((-num) // den)
    return (2 * num + den) // (2 * den)


@njit(cache=True, inline="always", error_model="numpy")
def _in(codes, lo, hi, value):
    for j in range(lo, hi):
        if codes[j] == value:
            return True
    return False


@njit(cache=True, error_model="numpy")
def _days_from_birthday(doy, bday_base, today):
    if doy < 0:
        return 366
    best = 10**6
    for y in range(3):
        o = bday_base[y, 0] + doy + (bday_base[y, 1] if doy >= 59 else 0)
        dist = abs(o - today)
        if dist < best:
            best = dist
    return best


@njit(cache=True, error_model="numpy")
def _plain_condition(lo, hi, op, arg, consts, set_lo, set_hi, set_vals, ev, i, state_vals, day_vals, stack, c,
                     attrs):
    """A condition without `any line` (most of them): `_condition` without the lines' arguments, which
    keeps the call cheap (the compiler inlines it)."""
    sp = 0
    for pc in range(lo, hi):
        o = op[pc]
        a = arg[pc]
        if o == 0:
            stack[sp] = ev[a, i]
            sp += 1
        elif o == 1:
            stack[sp] = state_vals[a]
            sp += 1
        elif o == 2:
            stack[sp] = day_vals[a]
            sp += 1
        elif o == 3:
            stack[sp] = consts[a]
            sp += 1
        elif o == 10:
            stack[sp] = attrs[a, c]
            sp += 1
        elif o == 4:
            r = stack[sp - 1]
            left = stack[sp - 2]
            sp -= 1
            if a == 0:
                v = left == r
            elif a == 1:
                v = left != r
            elif a == 2:
                v = left < r
            elif a == 3:
                v = left <= r
            elif a == 4:
                v = left > r
            else:
                v = left >= r
            stack[sp - 1] = 1.0 if v else 0.0
        elif o == 5 or o == 6:
            x = stack[sp - 1]
            hit = False
            for j in range(set_lo[a], set_hi[a]):
                if set_vals[j] == x:
                    hit = True
                    break
            if o == 6:
                hit = not hit
            stack[sp - 1] = 1.0 if hit else 0.0
        elif o == 7 or o == 8:
            acc = o == 7
            for j in range(sp - a, sp):
                t = stack[j] != 0.0
                acc = (acc and t) if o == 7 else (acc or t)
            sp -= a
            stack[sp] = 1.0 if acc else 0.0
            sp += 1
        elif o == 9:
            stack[sp - 1] = 0.0 if stack[sp - 1] != 0.0 else 1.0
    return stack[sp - 1] != 0.0


@njit(cache=True, error_model="numpy")
def _condition(lo, hi, op, arg, consts, set_lo, set_hi, set_vals, ev, i, state_vals, day_vals, stack, c, attrs,
               lstack, goods, catv, qtyv, none_code, has_lines, line_amt, line_cat, line_qty, line_valid, line_attr,
               la_default):
    if hi == lo:
        return True
    sp = 0
    skip = 0  # the opcodes of an `any line` condition, evaluated per line by `_any_line`
    for pc in range(lo, hi):
        if skip > 0:
            skip -= 1
            continue
        o = op[pc]
        a = arg[pc]
        if o == 0:
            stack[sp] = ev[a, i]
            sp += 1
        elif o == 1:
            stack[sp] = state_vals[a]
            sp += 1
        elif o == 2:
            stack[sp] = day_vals[a]
            sp += 1
        elif o == 3:
            stack[sp] = consts[a]
            sp += 1
        elif o == 10:
            stack[sp] = attrs[a, c]
            sp += 1
        elif o == 4:
            r = stack[sp - 1]
            left = stack[sp - 2]
            sp -= 1
            if a == 0:
                v = left == r
            elif a == 1:
                v = left != r
            elif a == 2:
                v = left < r
            elif a == 3:
                v = left <= r
            elif a == 4:
                v = left > r
            else:
                v = left >= r
            stack[sp - 1] = 1.0 if v else 0.0
        elif o == 5 or o == 6:
            x = stack[sp - 1]
            hit = False
            for j in range(set_lo[a], set_hi[a]):
                if set_vals[j] == x:
                    hit = True
                    break
            if o == 6:
                hit = not hit
            stack[sp - 1] = 1.0 if hit else 0.0
        elif o == 7 or o == 8:
            acc = o == 7
            for j in range(sp - a, sp):
                t = stack[j] != 0.0
                acc = (acc and t) if o == 7 else (acc or t)
            sp -= a
            stack[sp] = 1.0 if acc else 0.0
            sp += 1
        elif o == 9:
            stack[sp - 1] = 0.0 if stack[sp - 1] != 0.0 else 1.0
        elif o == 11:  # `any line`: the next `a` opcodes, per line
            # (evaluated here, not in a function of its own: a call in this loop keeps the compiler from
            # inlining `_condition`, which makes every purchase several times slower)
            hit = False
            for j in range(line_amt.shape[1] if has_lines else 1):
                if has_lines and not line_valid[i, j]:
                    continue
                lsp = 0
                for q in range(pc + 1, pc + 1 + a):
                    lo_ = op[q]
                    la = arg[q]
                    if lo_ == 12:  # the line's amount, category, quantity, sku (none)
                        if la == 3:
                            lstack[lsp] = none_code
                        elif has_lines:
                            lstack[lsp] = line_amt[i, j] if la == 0 else line_cat[i, j] if la == 1 else line_qty[i, j]
                        else:
                            lstack[lsp] = goods if la == 0 else catv if la == 1 else qtyv
                        lsp += 1
                    elif lo_ == 13:  # a line attribute (its default on a line without attributes)
                        lstack[lsp] = line_attr[la, i, j] if has_lines else la_default[la]
                        lsp += 1
                    elif lo_ == 3:
                        lstack[lsp] = consts[la]
                        lsp += 1
                    elif lo_ == 4:
                        lr = lstack[lsp - 1]
                        lleft = lstack[lsp - 2]
                        lsp -= 1
                        if la == 0:
                            lv = lleft == lr
                        elif la == 1:
                            lv = lleft != lr
                        elif la == 2:
                            lv = lleft < lr
                        elif la == 3:
                            lv = lleft <= lr
                        elif la == 4:
                            lv = lleft > lr
                        else:
                            lv = lleft >= lr
                        lstack[lsp - 1] = 1.0 if lv else 0.0
                    elif lo_ == 5 or lo_ == 6:
                        lx = lstack[lsp - 1]
                        lhit = False
                        for jj in range(set_lo[la], set_hi[la]):
                            if set_vals[jj] == lx:
                                lhit = True
                                break
                        if lo_ == 6:
                            lhit = not lhit
                        lstack[lsp - 1] = 1.0 if lhit else 0.0
                    elif lo_ == 7 or lo_ == 8:
                        lacc = lo_ == 7
                        for jj in range(lsp - la, lsp):
                            lt = lstack[jj] != 0.0
                            lacc = (lacc and lt) if lo_ == 7 else (lacc or lt)
                        lsp -= la
                        lstack[lsp] = 1.0 if lacc else 0.0
                        lsp += 1
                    elif lo_ == 9:
                        lstack[lsp - 1] = 0.0 if lstack[lsp - 1] != 0.0 else 1.0
                if lstack[lsp - 1] != 0.0:
                    hit = True
                    break
            stack[sp] = 1.0 if hit else 0.0
            sp += 1
            skip = a
    return stack[sp - 1] != 0.0


@njit(cache=True, error_model="numpy")
def _shares(total, line_amt, line_valid, i, out):
    """`total` cents split over purchase i's lines in proportion to their amounts, in whole cents
    (simulator.engine.lines.shares): floor(total × A_j / A) − floor(total × A_(j−1) / A); all of it
    on the last line when the amounts add up to 0."""
    W = line_amt.shape[1]
    whole = 0
    nvalid = 0
    for j in range(W):
        if line_valid[i, j]:
            whole += line_amt[i, j]
            nvalid += 1
    if whole <= 0:
        for j in range(W):
            out[j] = 0
        out[max(nvalid - 1, 0)] = total
        return
    cum = 0
    prev = 0
    for j in range(W):
        if line_valid[i, j]:
            cum += line_amt[i, j]
        upto = (total * cum) // whole
        out[j] = upto - prev
        prev = upto


@njit(cache=True, inline="always", error_model="numpy")
def _line_money(line_amt, line_cat, line_valid, i, kind, lship, ldisc, xc, xlo, xhi, ohas, oc, olo, ohi,
                mhas, mc, mlo, mhi):
    """A money base over purchase i's lines that count (not excluded, in `only` when given, and in the
    multiplier's categories when `mhas`): each line's amount (kind 0), gross (1: plus its share of
    the shipping) or net (2: less its share of the discounts)."""
    out = 0
    for j in range(line_amt.shape[1]):
        if not line_valid[i, j]:
            continue
        cv = line_cat[i, j]
        if _in(xc, xlo, xhi, cv) or (ohas != 0 and not _in(oc, olo, ohi, cv)) or (mhas != 0 and not _in(mc, mlo, mhi, cv)):
            continue
        if kind == 0:
            out += line_amt[i, j]
        elif kind == 1:
            out += line_amt[i, j] + lship[j]
        else:
            out += line_amt[i, j] - ldisc[j]
    return out


@njit(cache=True, inline="always", error_model="numpy")
def _line_quantity(line_cat, line_qty, line_valid, i, xc, xlo, xhi, ohas, oc, olo, ohi, mhas, mc, mlo, mhi):
    """The quantity over purchase i's lines that count (as `_line_money`)."""
    out = 0
    for j in range(line_cat.shape[1]):
        if not line_valid[i, j]:
            continue
        cv = line_cat[i, j]
        if _in(xc, xlo, xhi, cv) or (ohas != 0 and not _in(oc, olo, ohi, cv)) or (mhas != 0 and not _in(mc, mlo, mhi, cv)):
            continue
        out += line_qty[i, j]
    return out


@njit(cache=True, error_model="numpy")
def _period_reset(used, pid, row, c, cur):
    if pid[row, c] != cur:
        used[row, c] = 0
        pid[row, c] = cur
    return used[row, c]


@njit(cache=True, error_model="numpy")
def _raw_on(mj, m, nr, t, rule_bal, rate_lo, rate_hi, rate_factor, rate_own, rate_gross, tier_rate, rx_lo, rx_hi,
            rx_codes, ro_has, ro_lo, ro_hi, ro_codes, q_lo, q_hi, q_factor, qx_lo, qx_hi, qx_codes, qo_has, qo_lo,
            qo_hi, qo_codes, mo_lo, mo_hi, mo_codes, line_amt, line_cat, line_qty, line_valid, i, lship, ldisc):
    """R on purchase i's lines of multiplier mj's categories (`multiply 2x in category ...`, in 1/D
    points): the firing rules' rate awards and awards per quantity of the points, each on those of
    its lines that count and are in the multiplier's categories."""
    out = 0
    for r in range(nr):
        if not m[r] or rule_bal[r] >= 0:
            continue
        for j in range(q_lo[r], q_hi[r]):
            out += _line_quantity(line_cat, line_qty, line_valid, i, qx_codes, qx_lo[j], qx_hi[j], qo_has[j],
                                  qo_codes, qo_lo[j], qo_hi[j], 1, mo_codes, mo_lo[mj], mo_hi[mj]) * q_factor[j]
        for j in range(rate_lo[r], rate_hi[r]):
            base = _line_money(line_amt, line_cat, line_valid, i, 1 if rate_gross[j] != 0 else 2, lship, ldisc,
                               rx_codes, rx_lo[j], rx_hi[j], ro_has[j], ro_codes, ro_lo[j], ro_hi[j], 1, mo_codes,
                               mo_lo[mj], mo_hi[mj])
            f = tier_rate[t] if tier_rate[t] >= 0 and rate_own[j] == 0 else rate_factor[j]
            out += base * f
    return out


@njit(cache=True, error_model="numpy")
def purchase_batch(idx, amount, shipping, cat, ev, day, slot, day_vals, bday_base, rule_active, period_cur,
                   streak_cur,
                   cond_lo, cond_hi, op, arg, consts, set_lo, set_hi, set_vals,
                   rule_round, rule_group, sides_only, every_nth, streak_len, gives_money,
                   rate_lo, rate_hi, rate_factor, rate_gross, rx_lo, rx_hi, rx_codes, ro_has, ro_lo, ro_hi, ro_codes,
                   mult_lo, mult_hi, mult_num, mult_den, fixed, perk_cost,
                   disc_lo, disc_hi, disc_pct, disc_num, disc_den, disc_fixed, disc_gross, dx_lo, dx_hi, dx_codes,
                   has_rule_disc, cap_lo, cap_hi, cap_limit, cap_period, lim_lo, lim_hi, lim_limit, lim_period,
                   prog, tier_rate, tier_mult_num, tier_mult_den, tier_disc_num, tier_disc_den, thresholds,
                   tier, tier_since, grace_start, purchases, metric, window, issued, discount, perk,
                   outstanding, pending, avail, ring, pend, debt, inact, inact_due_tab,
                   cap_used, cap_pid, lim_used, lim_pid, nth, streak_last, streak_run, bday_doy,
                   total_out, disc_out, inc_out, repaid_out,
                   cnt_row, cnt_cond_lo, cnt_cond_hi, cnt_sum_col, counters, attrs, cinc_out,
                   rule_bal, rate_own, bal_issued, bal_out,
                   qty, q_lo, q_hi, q_factor, qx_lo, qx_hi, qx_codes, qo_has, qo_lo, qo_hi, qo_codes,
                   do_has, do_lo, do_hi, do_codes, mo_has, mo_lo, mo_hi, mo_codes,
                   has_lines, line_amt, line_cat, line_qty, line_valid, line_attr, la_default,
                   has_status, status_year, year, has_unseen, unseen, first_due,
                   budget_kind, budget_left, pc_num, pc_den):
    """Apply one purchase to each customer of `idx`; returns the largest points of one purchase."""
    nr = cond_lo.size
    D = prog[P_D]
    add = prog[P_ADD] != 0
    rounding = prog[P_ROUND]
    any_disc = prog[P_ANYDISC] != 0
    tmult = prog[P_TMULT] != 0
    tdisc = prog[P_TDISC] != 0
    mk = prog[P_METRIC]
    act_buy = prog[P_ACT_BUY] != 0
    act_earn = prog[P_ACT_EARN] != 0
    count_buy = prog[P_COUNT_BUY] != 0
    P = prog[P_PEND]
    use_ring = prog[P_RING] != 0
    ring_row = slot % prog[P_RING_SIZE]
    pend_row = day % P if P > 0 else 0
    has_debt = prog[P_DEBT] != 0
    win_row = prog[P_WIN_ROW]
    ninact = prog[P_NINACT]
    ngroups = prog[P_NGROUPS]
    metric_of = prog[P_METRIC_OF]
    ncnt = cnt_row.size
    cinc = np.zeros(max(ncnt, 1), dtype=np.int64)
    nbal = bal_out.shape[0] if rule_bal.size and rule_bal.max() >= 0 else 0
    nattr = 0
    for pc in range(op.size):
        if op[pc] == 10 and arg[pc] + 1 > nattr:
            nattr = arg[pc] + 1
    any_dfb = False
    for pc in range(op.size):
        if op[pc] == 1 and arg[pc] == 3:
            any_dfb = True
    ntiers = thresholds.size
    stack = np.zeros(max(op.size, 1) + 1)
    lstack = np.zeros(max(op.size, 1) + 1)
    # which conditions (rules', counters') hold an `any line`: the others take `_plain_condition`
    cond_line = np.zeros(max(nr, 1), dtype=np.bool_)
    for r in range(nr):
        for pc in range(cond_lo[r], cond_hi[r]):
            if op[pc] == 11:
                cond_line[r] = True
    cnt_line = np.zeros(max(cnt_row.size, 1), dtype=np.bool_)
    for j in range(cnt_row.size):
        for pc in range(cnt_cond_lo[j], cnt_cond_hi[j]):
            if op[pc] == 11:
                cnt_line[j] = True
    none_code = float(prog[P_NONE])
    W = line_amt.shape[1]
    lship = np.zeros(W, dtype=np.int64)  # per line: its share of the shipping, of the discounts
    ldisc = np.zeros(W, dtype=np.int64)
    state_vals = np.zeros(5)
    groups = np.zeros(max(prog[P_NGROUPS], 1), dtype=np.bool_)
    m = np.zeros(max(nr, 1), dtype=np.bool_)
    pts = np.zeros(max(nr, 1), dtype=np.int64)
    rdisc = np.zeros(max(nr, 1), dtype=np.int64)  # per rule: its discounts (a money budget spends them)
    biggest = 0
    n_rows_state = lim_used.shape[0] if lim_hi.size and lim_hi[-1] > 0 else 0
    n_caps = cap_used.shape[0] if cap_hi.size and cap_hi[-1] > 0 else 0
    has_nth = nth.shape[1] > 1
    has_streak = streak_last.shape[1] > 1
    for i in range(idx.size):
        if i + AHEAD < idx.size:  # the state of a customer a few purchases ahead, while this one computes
            a = idx[i + AHEAD]
            _prefetch1(tier, a)
            _prefetch1(purchases, a)
            _prefetch1(outstanding, a)
            _prefetch1(issued, a)
            if mk != 0:
                _prefetch1(metric, a)
                if win_row >= 0:
                    _prefetch(window, win_row, a)
            if P > 0:
                _prefetch(pend, pend_row, a)
                _prefetch1(pending, a)
            elif use_ring:
                _prefetch(ring, ring_row, a)
            else:
                _prefetch1(avail, a)
            for k in range(ninact):
                _prefetch(inact, k, a)
            for j in range(n_caps):
                _prefetch(cap_used, j, a)
                _prefetch(cap_pid, j, a)
            for j in range(n_rows_state):
                _prefetch(lim_used, j, a)
                _prefetch(lim_pid, j, a)
            if has_nth or has_streak:
                for r in range(nr):
                    if every_nth[r] > 0:
                        _prefetch(nth, r, a)
                    if streak_len[r] > 0:
                        _prefetch(streak_last, r, a)
                        _prefetch(streak_run, r, a)
            for j in range(ncnt):
                _prefetch(counters, cnt_row[j], a)
            for j in range(nbal):
                _prefetch(bal_issued, j, a)
            for j in range(nattr):
                _prefetch(attrs, j, a)
            if any_dfb:
                _prefetch1(bday_doy, a)
            if any_disc:
                _prefetch1(discount, a)
        c = idx[i]
        t = tier[c]
        if has_unseen and unseen[c]:  # a declared `activity`: the inactivity clock starts the day before
            unseen[c] = False         # the customer's first event (ProgramArm.first_event)
            for k in range(ninact):
                inact[k, c] = first_due[k]
        state_vals[0] = 1.0 if purchases[c] == 0 else 0.0
        state_vals[1] = purchases[c]
        state_vals[2] = t
        if any_dfb:
            state_vals[3] = _days_from_birthday(bday_doy[c], bday_base, int(day_vals[1]))
        state_vals[4] = outstanding[c]
        for g in range(ngroups):
            groups[g] = False
        # step 3: skips
        for r in range(nr):
            m[r] = False
            pts[r] = 0
            if rule_active[r] == 0:
                continue
            if cond_hi[r] == cond_lo[r]:
                ok = True
            elif cond_line[r] == 0:
                ok = _plain_condition(cond_lo[r], cond_hi[r], op, arg, consts, set_lo, set_hi, set_vals, ev, i,
                                      state_vals, day_vals, stack, c, attrs)
            else:
                ok = _condition(cond_lo[r], cond_hi[r], op, arg, consts, set_lo, set_hi, set_vals, ev, i,
                                state_vals, day_vals, stack, c, attrs, lstack, amount[i] - shipping[i], cat[i],
                                qty[i], none_code, has_lines, line_amt, line_cat, line_qty, line_valid, line_attr,
                                la_default)
            if sides_only[r] != 0:
                ok = False
            nth_ok = True
            if every_nth[r] > 0:
                nth_ok = False
                if ok:
                    nth[r, c] += 1
                    nth_ok = nth[r, c] % every_nth[r] == 0
            streak_ok = True
            if streak_len[r] > 0:
                streak_ok = False
                if ok:
                    cur = streak_cur[r]
                    lp = streak_last[r, c]
                    same = lp == cur
                    if not same:
                        streak_run[r, c] = streak_run[r, c] + 1 if lp == cur - 1 else 1
                    streak_last[r, c] = cur
                    if (not same) and streak_run[r, c] >= streak_len[r]:
                        streak_run[r, c] = 0
                        streak_ok = True
            g = rule_group[r]
            if g >= 0 and groups[g]:
                ok = False
            for j in range(lim_lo[r], lim_hi[r]):
                if _period_reset(lim_used, lim_pid, j, c, period_cur[lim_period[j]]) >= lim_limit[j]:
                    ok = False
            ok = ok and nth_ok and streak_ok
            if budget_kind[r] != 0 and budget_left[r] <= 0:  # a budget at or below 0 skips the rule
                ok = False
            if g >= 0 and ok:
                groups[g] = True
            m[r] = ok
        # the counters' increments (booked in step 10; their conditions read the state before the event)
        for j in range(ncnt):
            cinc[j] = 0
            if cnt_cond_hi[j] == cnt_cond_lo[j]:
                holds = True
            elif cnt_line[j] == 0:
                holds = _plain_condition(cnt_cond_lo[j], cnt_cond_hi[j], op, arg, consts, set_lo, set_hi, set_vals,
                                         ev, i, state_vals, day_vals, stack, c, attrs)
            else:
                holds = _condition(cnt_cond_lo[j], cnt_cond_hi[j], op, arg, consts, set_lo, set_hi, set_vals, ev, i,
                                   state_vals, day_vals, stack, c, attrs, lstack, amount[i] - shipping[i], cat[i],
                                   qty[i], none_code, has_lines, line_amt, line_cat, line_qty, line_valid, line_attr,
                                   la_default)
            if holds:
                cinc[j] = 1 if cnt_sum_col[j] < 0 else np.int64(ev[cnt_sum_col[j], i])
        # step 4: discounts
        goods = amount[i] - shipping[i]
        if has_lines:  # each line's share of the shipping (its gross amount)
            _shares(shipping[i], line_amt, line_valid, i, lship)
        disc = 0
        for r in range(nr):
            rdisc[r] = 0
            if not m[r] or has_rule_disc[r] == 0:
                continue
            before = disc
            for j in range(disc_lo[r], disc_hi[r]):
                if has_lines:  # the lines that count, before discounts (gross: with their shipping)
                    base = _line_money(line_amt, line_cat, line_valid, i, disc_gross[j], lship, ldisc, dx_codes,
                                       dx_lo[j], dx_hi[j], do_has[j], do_codes, do_lo[j], do_hi[j], 0, do_codes, 0, 0)
                else:
                    base = amount[i] if disc_gross[j] != 0 else goods
                    if _in(dx_codes, dx_lo[j], dx_hi[j], cat[i]):
                        base = 0
                    if do_has[j] != 0 and not _in(do_codes, do_lo[j], do_hi[j], cat[i]):
                        base = 0  # `in category`: the purchase, one line, counts when it is in them
                if disc_pct[j] != 0:
                    disc += _round_div(base * disc_num[j], disc_den[j], rule_round[r])
                else:
                    disc += min(base, disc_fixed[j])
            disc = min(disc, goods)
            rdisc[r] = disc - before
        if tdisc:
            disc += _round_div(goods * tier_disc_num[t], tier_disc_den[t], rounding)
        net = goods
        if any_disc:
            disc = min(disc, goods)
            discount[c] += disc
            net = goods - disc
        disc_out[i] = disc
        if has_lines:  # each line's share of the discounts (its net amount)
            _shares(disc if any_disc else 0, line_amt, line_valid, i, ldisc)
        # step 5: rate awards
        R = 0
        for r in range(nr):
            if not m[r] or (rate_hi[r] == rate_lo[r] and q_hi[r] == q_lo[r]):
                continue
            num = 0
            for j in range(q_lo[r], q_hi[r]):  # awards per quantity: rounded with the rule's rate awards
                if has_lines:
                    qb = _line_quantity(line_cat, line_qty, line_valid, i, qx_codes, qx_lo[j], qx_hi[j], qo_has[j],
                                        qo_codes, qo_lo[j], qo_hi[j], 0, qo_codes, 0, 0)
                else:
                    qb = qty[i]
                    if _in(qx_codes, qx_lo[j], qx_hi[j], cat[i]):
                        qb = 0
                    if qo_has[j] != 0 and not _in(qo_codes, qo_lo[j], qo_hi[j], cat[i]):
                        qb = 0
                num += qb * q_factor[j]
            for j in range(rate_lo[r], rate_hi[r]):
                if has_lines:  # the lines that count, net (less their share of the discounts) or gross
                    base = _line_money(line_amt, line_cat, line_valid, i, 1 if rate_gross[j] != 0 else 2, lship,
                                       ldisc, rx_codes, rx_lo[j], rx_hi[j], ro_has[j], ro_codes, ro_lo[j], ro_hi[j],
                                       0, ro_codes, 0, 0)
                else:
                    base = amount[i] if rate_gross[j] != 0 else net
                    if _in(rx_codes, rx_lo[j], rx_hi[j], cat[i]):
                        base = 0
                    if ro_has[j] != 0 and not _in(ro_codes, ro_lo[j], ro_hi[j], cat[i]):
                        base = 0
                f = tier_rate[t] if tier_rate[t] >= 0 and rate_own[j] == 0 else rate_factor[j]
                num += base * f
            if rule_bal[r] < 0:  # R: the points' raw awards only
                R += num
            pts[r] += _round_div(num, D, rule_round[r])
        # step 6: the tier's multiplier, then the rules'
        tier_pts = 0
        pnum = 1
        pden = 1
        if R != 0:
            if tmult:
                fn = tier_mult_num[t]
                fd = tier_mult_den[t]
                tier_pts = _round_div(R * (fn - fd), fd * D, rounding)
                if not add:
                    pnum = fn
                    pden = fd
            for r in range(nr):
                if not m[r]:
                    continue
                for j in range(mult_lo[r], mult_hi[r]):
                    fn = mult_num[j]
                    fd = mult_den[j]
                    Rj = R  # `in category`: R on the lines of those categories (the one line: all of R or none)
                    if mo_has[j] != 0:
                        if has_lines:
                            Rj = _raw_on(j, m, nr, t, rule_bal, rate_lo, rate_hi, rate_factor, rate_own, rate_gross,
                                         tier_rate, rx_lo, rx_hi, rx_codes, ro_has, ro_lo, ro_hi, ro_codes, q_lo, q_hi,
                                         q_factor, qx_lo, qx_hi, qx_codes, qo_has, qo_lo, qo_hi, qo_codes, mo_lo,
                                         mo_hi, mo_codes, line_amt, line_cat, line_qty, line_valid, i, lship, ldisc)
                        elif not _in(mo_codes, mo_lo[j], mo_hi[j], cat[i]):
                            Rj = 0
                    if add:
                        pts[r] += _round_div(Rj * (fn - fd), D * fd, rule_round[r])
                    else:
                        pts[r] += _round_div(Rj * pnum * (fn - fd), pden * D * fd, rule_round[r])
                        pnum *= fn
                        pden *= fd
                        a, b = pnum, pden
                        while b != 0:
                            a, b = b, a % b
                        pnum //= a
                        pden //= a
        # step 7: fixed awards; step 8: caps
        total = 0
        for r in range(nr):
            if not m[r]:
                continue
            pts[r] += fixed[r]
            if pts[r] < 0:
                pts[r] = 0
            wanted = pts[r]
            for j in range(cap_lo[r], cap_hi[r]):
                used = _period_reset(cap_used, cap_pid, j, c, period_cur[cap_period[j]])
                left = cap_limit[j] - used
                if left < 0:
                    left = 0
                if pts[r] > left:
                    pts[r] = left
            if budget_kind[r] != 0:  # the global budget: what is left, shared by every customer in turn
                spent = (rdisc[r] + perk_cost[r]) * pc_den  # a money budget, × the point cost's denominator
                if budget_kind[r] == 1:
                    allowed = max(budget_left[r], 0)
                elif pc_num > 0:
                    allowed = max(budget_left[r] - spent, 0) // pc_num
                else:
                    allowed = pts[r]
                if pts[r] > allowed:
                    pts[r] = allowed
                if budget_kind[r] == 1:
                    budget_left[r] -= pts[r]
                else:
                    budget_left[r] -= spent + pts[r] * pc_num
            if gives_money[r] == 0 and pts[r] == 0 and wanted > 0:
                m[r] = False
        # step 9: book the rules, then the lots
        for r in range(nr):
            for j in range(cap_lo[r], cap_hi[r]):
                cap_used[j, c] += pts[r]
            if not m[r]:
                continue
            for j in range(lim_lo[r], lim_hi[r]):
                _period_reset(lim_used, lim_pid, j, c, period_cur[lim_period[j]])
                lim_used[j, c] += 1
            if perk_cost[r] != 0:
                perk[c] += perk_cost[r]
            if rule_bal[r] >= 0:  # a balance beside the points: not a lot
                bal_out[rule_bal[r], i] += pts[r]
                bal_issued[rule_bal[r], c] += pts[r]
                continue
            total += pts[r]
        if tier_pts > 0:
            total += tier_pts
        if total > biggest:
            biggest = total
        total_out[i] = total
        if total > 0:
            outstanding[c] += total
            left = total
            if has_debt and debt[c] > 0:
                pay = min(debt[c], left)
                debt[c] -= pay
                left -= pay
                repaid_out[i] = pay
            if P > 0:
                pend[pend_row, c] += left
                pending[c] += left
            elif not use_ring:
                avail[c] += left
            else:
                ring[ring_row, c] += left
            issued[c] += total
        # step 10: activity, purchase count, tier metric
        active = act_buy or (act_earn and total > 0)
        if active:
            for k in range(ninact):
                inact[k, c] = inact_due_tab[k, day]
        for j in range(ncnt):
            counters[cnt_row[j], c] += cinc[j]
            cinc_out[j, i] = cinc[j]
        if count_buy:
            purchases[c] += 1
        if mk != 0:
            if mk == 1:
                inc = net
            elif mk == 2:
                inc = goods
            elif mk == 3:
                inc = total
            elif mk == 4:
                inc = 1
            elif mk == 5:
                inc = cinc[metric_of]
            else:
                inc = bal_out[metric_of, i]
            inc_out[i] = inc
            metric[c] += inc
            if win_row >= 0:
                window[win_row, c] += inc
            # step 11: upgrade at once to the last tier whose threshold the metric reaches
            q = 0
            for k in range(ntiers):
                if metric[c] >= thresholds[k]:
                    q = k
            # status dates: a metric the purchase moved that reaches the tier held, or an upgrade,
            # earns the status in this year (simulator.engine.status_dates.StatusDates.earned_again)
            if has_status and ((inc != 0 and q == t) or q > t):
                status_year[c] = year
            if q > t:
                tier[c] = q
                tier_since[c] = day
                grace_start[c] = -1
    return biggest
