"""Write what `loyalty fit` found: a population file the simulator reads as it is, and its customers file.

Takes: a `FitOutcome` (simulator.fit.fitting) and the output path. Gives: the population YAML
(every key of simulator/model/populations/default.yaml that the data can speak to, each number
with a comment saying where it came from: the estimator, the customers or rows it is
based on, its standard error), the `uncertainty:` block of each segment (log-parameters
and their covariance, TRANSACTIONS_API.md), and the customers CSV beside it (one row per
customer: id, segment, frequency, recency, age, mean_spend, spend_count, then birthday,
signup and attributes when the file has them), named by the population's `customers:` key.
Both files are written together (`simulator.report.outputs.write_files`).

What the data cannot say is written at documented defaults and marked so: economics
(gross margin, fixed costs: set them), the behavioural response to the program (the
literature defaults of default.yaml), redemption and referral propensities.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from pathlib import Path
from typing import Any

import numpy as np

from simulator.fit.fitting import FitOutcome, SegmentFit

DEFAULT_RESPONSE = """response:                    # NOT in the data: the literature defaults of simulator/model/populations/default.yaml
  goal_gradient: 0.2         # Kivetz, Urminsky & Zheng 2006
  post_reward_lift: 0.05     # Taylor & Neslin 2005
  post_reward_days: 14
  heavy_buyer_damping: 1.0   # Liu 2007
  tier_dropout_reduction: 0.2      # Meyer-Waarden 2007
  downgrade_dropout_increase: 0.5  # Wagner, Hennig-Thurau & Rudolph 2009
  perk_use_rate: 0.5
  referral_action_rate: 0.3  # Kumar, Petersen & Leone 2007
  referral_conversion: 0.13
  satisfaction: false
"""
DEFAULT_ECONOMICS = """economics:                   # NOT in the data: defaults. SET THEM for your business before trusting profit figures
  gross_margin: 0.30                       # share of revenue kept as gross profit
  fixed_cost_per_member_per_month: 0       # platform fee per member, currency units
  fixed_cost_per_month: 0                  # program staff, marketing
  acquisition_cost: 0                      # per customer brought in by a referral
"""
MODEL_NAMES = {"bgnbd": "BG/NBD", "pareto_nbd": "Pareto/NBD", "gamma_gamma": "gamma-gamma"}


def num(v: float) -> str:
    """A number with six significant digits, as YAML reads it back."""
    if v == 0 or not math.isfinite(v):
        return "0"
    return f"{v:.6g}" if 1e-4 <= abs(v) < 1e7 else f"{v:.6e}"


def exact_shares(weights: list[float], digits: int = 6) -> list[str]:
    """Shares printed with `digits` decimals that add up to exactly 1 (largest remainder)."""
    scale = 10**digits
    total = sum(weights)
    raw = [w / total * scale for w in weights]
    units = [int(r) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: units[i] - raw[i])[:scale - sum(units)]:
        units[i] += 1
    return [(f"{u / scale:.{digits}f}".rstrip("0").rstrip(".") or "0") for u in units]


def _pairs(pairs) -> str:
    shares = exact_shares([w for _, w in pairs])
    return ", ".join(f"{_key(str(v)) if isinstance(v, str) else num(v)}: {p}" for (v, _), p in zip(pairs, shares))


def _key(text: str) -> str:
    """A mapping key or value quoted when YAML would read it as something else."""
    import yaml

    plain = yaml.safe_load(f"k: {text}") if text and all(c not in text for c in ":#{}[],&*!|>'\"%@`") else None
    if isinstance(plain, dict) and plain.get("k") == text and text.strip() == text and text.lower() not in {
            "yes", "no", "on", "off", "y", "n", "null", "true", "false", "~"}:
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _se(fit: Any, name: str) -> str:
    i = fit.names.index(name)
    return num(fit.se[i])


def _short(name: str) -> str:
    return name.split(".", 1)[1]


def _mix_line(label: str, mix, what: str) -> str:
    return f"    {label}: {{{_pairs(mix.shares)}}}    # share of {mix.rows:,} {what}"


def segment_yaml(seg: SegmentFit, outcome: FitOutcome, share: str) -> list[str]:
    s = outcome.summaries
    f = seg.purchase
    mname = MODEL_NAMES[seg.model]
    period = f"{s.first_day} .. {s.last_day}"
    lines = [f"  - name: {_key(seg.name)}",
             f"    share: {share}    # {seg.n_customers:,} of {outcome.transactions.n_customers:,} customers"]
    r, alpha = f.value("purchase.r"), f.value("purchase.alpha")
    lines.append(f"    purchase: {{r: {num(r)}, alpha: {num(alpha)}}}    # {mname} MLE on {f.n:,} customers ({period}), "
                 f"SE r {_se(f, 'purchase.r')}, alpha {_se(f, 'purchase.alpha')}; log-likelihood {f.loglik:,.1f}")
    drop = [n for n in f.names if not n.startswith("purchase.")]
    if seg.model == "bgnbd":
        a, b = (f.value(n) for n in drop)
        lines.append(f"    dropout: {{a: {num(a)}, b: {num(b)}}}    # SE a {_se(f, drop[0])}, b {_se(f, drop[1])}")
    else:
        sv, beta = (f.value(n) for n in drop)
        lines.append(f"    lifetime: {{s: {num(sv)}, beta: {num(beta)}}}    # SE s {_se(f, drop[0])}, "
                     f"beta {_se(f, drop[1])}")
    if seg.spend is not None:
        g = seg.spend
        p, q, gamma = (g.value(n) for n in ("spend.p", "spend.q", "spend.gamma"))
        mean = p * gamma / (q - 1) if q > 1 else float("nan")
        lines.append(f"    spend: {{p: {num(p)}, q: {num(q)}, gamma: {num(gamma)}}}    # gamma-gamma MLE on "
                     f"{seg.spend_customers:,} repeat buyers' mean spend, SE p {_se(g, 'spend.p')}, q {_se(g, 'spend.q')}, "
                     f"gamma {_se(g, 'spend.gamma')}; mean {mean:,.2f} a purchase")
    else:
        lines.append("    # spend: no repeat buyer with a positive mean spend: the simulator's default spend model is used")
    mx = seg.mixes
    if mx.categories is not None:
        lines.append(_mix_line("categories", mx.categories, "purchase rows"))
    if mx.channels is not None:
        lines.append(_mix_line("channels", mx.channels, "purchase rows"))
    if mx.items_mean is not None:
        lines.append(f"    items: {num(round(mx.items_mean, 4))}    # mean {mx.items_source} per purchase row over "
                     f"{mx.items_rows:,} rows")
    lines.append("    redeem: 0.5    # NOT in the data: chance to redeem when a reward is affordable (default)")
    if mx.birthday_known is not None:
        lines.append(f"    birthday_known: {num(round(mx.birthday_known, 4))}    # {mx.birthdays:,} of "
                     f"{mx.customers:,} customers have a birthday in the file")
    else:
        lines.append("    birthday_known: 1.0    # NOT in the data (no birthday column): every birthday taken as known")
    if mx.enroll_share is not None:
        lines.append(f"    enrollment: {{share: {num(round(mx.enroll_share, 4))}}}    # {mx.members:,} of "
                     f"{mx.customers:,} customers have a signup date")
    else:
        lines.append("    enrollment: {share: 1.0}    # no signup column: every customer taken as a member")
    rt = mx.returns
    if rt is not None and rt.returns:
        frac = _pairs(rt.fraction)
        lines.append(f"    returns: {{rate: {num(round(rt.rate, 6))}, fraction: {{{frac}}}, delay_days: "
                     f"{{min: {rt.delay_min}, max: {rt.delay_max}}}}}    # {rt.returns:,} returns of "
                     f"{rt.purchases:,} purchase rows; delay 5th..95th percentile, median {rt.delay_median:g} days")
    elif rt is not None:
        lines.append(f"    returns: 0    # no return in {rt.purchases:,} purchase rows")
    attrs = [f"      {_key(name)}: {{{_pairs(mix.shares)}}}"
             f"    # share of {mix.rows:,} customers" for name, mix in mx.attributes if name != outcome.segment_by]
    if attrs:
        lines += ["    attributes:", *attrs]
    lines += _uncertainty(seg)
    return lines


def _uncertainty(seg: SegmentFit) -> list[str]:
    fits = [seg.purchase] + ([seg.spend] if seg.spend is not None else [])
    names = [n for f in fits for n in f.names]
    k = len(names)
    cov = np.zeros((k, k))
    i = 0
    for f in fits:
        c = np.array(f.log_covariance, dtype=float)
        cov[i:i + c.shape[0], i:i + c.shape[0]] = c
        i += c.shape[0]
    log_mean = [math.log(v) for f in fits for v in f.params]
    rows = ",\n".join("        [" + ", ".join(f"{v:.6e}" for v in row) + "]" for row in cov)
    return ["    uncertainty:    # the fit's uncertainty: log-parameters ~ Normal(log_mean, log_covariance), drawn "
            "once per trial",
            "      parameters: [" + ", ".join(names) + "]",
            "      log_mean: [" + ", ".join(f"{v:.9g}" for v in log_mean) + "]",
            "      log_covariance: [\n" + rows + "]"]


def population_yaml(outcome: FitOutcome, customers_file: str | None, name: str) -> str:
    s, tx = outcome.summaries, outcome.transactions
    skipped = sum(c for _, c in tx.skipped)
    why = outcome.choice.sentence() if outcome.choice else MODEL_NAMES[outcome.model]
    head = [
        f"# Population fitted by `loyalty fit` from {tx.path}",
        f"# {tx.rows_read:,} rows ({skipped:,} not used: see the fit report), {tx.n_customers:,} customers, "
        f"{s.first_day} .. {s.last_day}; dates read as {tx.date_format or 'typed dates'}.",
        "# A transaction is a day with a purchase: same-day purchases of one customer count as one (as the papers do).",
        f"# Rates are per {s.unit}. Parameters are fitted on the whole history; the fit report checks the same",
        "# model against a holdout period. Standard errors (SE) come from the Hessian of the log-likelihood.",
        "version: 1",
        f"name: {_key(name)}",
        f"time_unit: {s.unit}",
        f"model: {outcome.model}    # {why}",
        f"start: {s.last_day + dt.timedelta(days=1)}    # the day after the history ends: the simulation continues it",
    ]
    if tx.currency:
        head.append(f"currency: {tx.currency}    # the money the amounts are in, as the transaction file says")
    if customers_file:
        head.append(f"customers: {_key(customers_file)}    # the {tx.n_customers:,} existing customers and their "
                    "histories (frequency, recency, age, mean spend)")
    body = head + [DEFAULT_ECONOMICS.rstrip("\n"), DEFAULT_RESPONSE.rstrip("\n"), "segments:"]
    shares = exact_shares([seg.share for seg in outcome.segments])
    for seg, share in zip(outcome.segments, shares):
        body += segment_yaml(seg, outcome, share)
    return "\n".join(body) + "\n"


def customers_csv(outcome: FitOutcome, dates: dict[str, np.ndarray]) -> str:
    """The customers CSV (contract format, simulator.model.customers_file); `dates` are the ISO birthday/signup texts."""
    s, tx = outcome.summaries, outcome.transactions
    seg_of = np.empty(tx.n_customers, dtype=object)
    for seg in outcome.segments:
        seg_of[seg.customers] = seg.name
    spend_ok = s.mean_spend > 0
    attrs = [k for k in tx.customer_table if k not in ("birthday", "signup")]
    header = ["id", "segment", "frequency", "recency", "age", "mean_spend", "spend_count",
              *[k for k in ("birthday", "signup") if k in dates], *attrs]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for i in range(tx.n_customers):
        row = [tx.customer_ids[i], seg_of[i], int(s.full_x[i]), f"{s.full_t_x[i]:.6g}", f"{s.full_T[i]:.6g}",
               f"{s.mean_spend[i]:.2f}" if spend_ok[i] else "0", int(s.spend_count[i]) if spend_ok[i] else 0]
        row += [dates[k][i] for k in ("birthday", "signup") if k in dates]
        row += [tx.customer_table[k][i] for k in attrs]
        w.writerow(row)
    return buf.getvalue()


def customers_path(out: Path) -> Path:
    """The customers file beside the population file `out` (`ours.yaml` -> `ours.customers.csv`)."""
    return out.with_name(out.stem + ".customers.csv")


def write_population(outcome: FitOutcome, out: Path, dates: dict[str, np.ndarray],
                     with_customers: bool = True) -> list[Path]:
    """Write the population file and its customers file beside it together (`simulator.report.outputs.write_files`:
    both are renamed into place at once, or neither is); returns the paths written. OutputError (RL620)."""
    from simulator.report.outputs import write_files

    files: dict[Path, str] = {}
    name = None
    if with_customers:
        cpath = customers_path(out)
        name = cpath.name
        files[cpath] = customers_csv(outcome, dates)
    written = write_files({out: population_yaml(outcome, name, out.stem), **files})
    return written
