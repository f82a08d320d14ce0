"""The points by issue-month cohort: hand-worked examples on both engines, the two identities on
whole runs, opening balances as their own cohort, determinism over workers and blocks, the reports."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from base_helpers import one_trial
from rulelang import Event, run
from rulelang.check.compiler import compile_source
from rulelang.syntax.loader import load_file
from rulelang.syntax.parser import parse_text
from sim_helpers import HERE, ROOT, population_text
from simulator.accounting.cohorts import checks, cohorts_json
from simulator.engine.calendar import Calendar
from simulator.engine.cohorts import CohortBook
from simulator.engine.lots import LotStore
from simulator.trials.montecarlo import simulate


def _compile(text: str):
    sf, diags = parse_text(text, "tiny.loyalty")
    assert sf is not None, [d.message for d in diags]
    program, more = compile_source(sf)
    assert program is not None, [d.message for d in more]
    return program


TINY = _compile("""program "Tiny" {
  currency USD
  earn base on purchase { award 1 point per 1 USD of net amount }
  expire points 2 months after earning at end of month
  reward gift {
    price 150 points
    worth 1 USD
    costs us 1 USD
  }
}
""")


def _at(y: int, m: int, d: int) -> dt.datetime:
    return dt.datetime(y, m, d, 12, 0)


# The hand-worked example (docs/accounting.md §3 shows the same table):
#   2027-01-10 purchase 100 USD -> lot A, 100 points (January cohort)
#   2027-02-05 purchase  80 USD -> lot B,  80 points (February cohort)
#   2027-02-20 redeem gift 150 points: FIFO takes all 100 of A, then 50 of B
#   2027-03-03 purchase  40 USD -> lot C,  40 points (March cohort)
#   expiry "2 months after earning at end of month": earn date + 2 months, then the first day of the
#   next month: B (30 left) 02-05 -> 04-05 -> 2027-05-01, C (40) 03-03 -> 05-03 -> 2027-06-01
#   2027-06-10 purchase  25 USD -> lot D,  25 points (June cohort), outstanding at the end
# Cohort matrix (flows in the month; outstanding at month end), months Jan..Jun:
#   Jan: issued 100; redeemed Feb 100;             outstanding 100, 0, 0, 0, 0, 0
#   Feb: issued  80; redeemed Feb 50; expired May 30; outstanding 0, 30, 30, 30, 0, 0
#   Mar: issued  40; expired Jun 40;               outstanding 0, 0, 40, 40, 40, 0
#   Jun: issued  25;                               outstanding 0, 0, 0, 0, 0, 25
# Per cohort issued = redeemed + expired + outstanding: 100 = 100; 80 = 50 + 30; 40 = 40; 25 = 25.
# Columns: redeemed in Feb 100 + 50 = 150 = the redemption; expired May 30, June 40.
EXPECTED = {
    "2027-01": {"issued": 100, "redeemed": {"2027-02": 100}, "expired": {}, "reversed": {}, "outstanding": 0},
    "2027-02": {"issued": 80, "redeemed": {"2027-02": 50}, "expired": {"2027-05": 30}, "reversed": {}, "outstanding": 0},
    "2027-03": {"issued": 40, "redeemed": {}, "expired": {"2027-06": 40}, "reversed": {}, "outstanding": 0},
    "2027-06": {"issued": 25, "redeemed": {}, "expired": {}, "reversed": {}, "outstanding": 25},
}


def test_interpreter_hand_worked_example():
    events = [Event("purchase", _at(2027, 1, 10), 10000, id="a"), Event("purchase", _at(2027, 2, 5), 8000, id="b"),
              Event("redeem", _at(2027, 2, 20), None, "gift"), Event("purchase", _at(2027, 3, 3), 4000, id="c"),
              Event("purchase", _at(2027, 6, 10), 2500, id="d")]
    res = run(TINY, events, until=dt.date(2027, 6, 30))
    assert (res.issued, res.redeemed, res.expired, res.outstanding) == (245, 150, 70, 25)
    assert res.cohorts == EXPECTED


def test_engine_lots_hand_worked_example():
    """The same movements on the engine's lot store (month buckets), told to a cohort book."""
    cal = Calendar.make(dt.date(2027, 1, 1), 181)  # 2027-01-01 .. 2027-06-30
    mod = cal.month_of_day()
    lots = LotStore(1, 0, "month", 8)
    book = CohortBook(1, mod, cal.months, "month", record=1)
    lots.cohorts = book
    one = np.array([0])
    labels = cal.month_labels()

    def day(m: int, d: int) -> int:
        return cal.day_of(dt.date(2027, m, d))

    def at(d: int) -> None:  # the day loop's calendar step: the month, the newest ring slot
        book.month = int(mod[d])
        lots.start_slot(int(mod[d]), False)

    at(day(1, 10)); lots.add(one, day(1, 10), int(mod[day(1, 10)]), np.array([100]))
    book.month_end(0, None)
    at(day(2, 5)); lots.add(one, day(2, 5), 1, np.array([80]))
    at(day(2, 20)); lots.burn(one, np.array([150]))
    book.month_end(1, None)
    at(day(3, 3)); lots.add(one, day(3, 3), 2, np.array([40]))
    book.month_end(2, None)
    at(day(4, 1)); book.month_end(3, None)
    at(day(5, 1)); lots.expire_slot(1, None, day(5, 1))  # the February bucket
    book.month_end(4, None)
    at(day(6, 1)); lots.expire_slot(2, None, day(6, 1))  # the March bucket
    at(day(6, 10)); lots.add(one, day(6, 10), 5, np.array([25]))
    book.month_end(5, None)
    assert book.customer(0, labels, 0) == EXPECTED
    f = book.flows()
    # rows: 0 opening, 1 + m month m, 7 below zero
    assert f["outstanding"][1].tolist() == [100, 0, 0, 0, 0, 0]
    assert f["outstanding"][2].tolist() == [0, 30, 30, 30, 0, 0]
    assert f["outstanding"][3].tolist() == [0, 0, 40, 40, 40, 0]
    assert f["outstanding"][6].tolist() == [0, 0, 0, 0, 0, 25]
    assert f["redeemed"][:, 1].tolist() == [0, 100, 50, 0, 0, 0, 0, 0]
    assert f["expired"][2, 4] == 30 and f["expired"][3, 5] == 40
    # the cohorts hold exactly what the lots hold
    assert int(book.held.sum()) == int(lots.outstanding[0]) == 25


def test_engine_reversal_newest_first_and_below_zero():
    """No age kept (granularity none), negative balance allowed. Jan: 100 points; Feb: 50; in Feb a
    return reverses 120 (newest first: Feb's 50, then 70 of Jan) and another 60 (Jan's last 30, then 30
    below zero); in March 40 points are earned, 30 of them repay the debt.
    reversed: Jan row Feb 70 + 30 = 100; Feb row Feb 50; below zero Feb +30, March -30; March row March 30.
    Ledger reversed: Feb 120 + 60 = 180 = 100 + 50 + 30; March 0 = 30 - 30. Outstanding at the end:
    March 40 - 30 = 10, below zero 0 (no debt left)."""
    cal = Calendar.make(dt.date(2027, 1, 1), 90)
    mod = cal.month_of_day()
    lots = LotStore(1, 0, "none", 0, negative_allowed=True)
    book = CohortBook(1, mod, cal.months, "none", record=1)
    lots.cohorts = book
    one, none = np.array([0]), np.array([-1])
    book.month = 0; lots.add(one, 5, 0, np.array([100])); book.month_end(0, lots.debt)
    book.month = 1; lots.add(one, 35, 0, np.array([50]))
    assert lots.reverse(one, np.array([120]), none, none, none, 40).tolist() == [120]
    assert lots.reverse(one, np.array([60]), none, none, none, 41).tolist() == [60]
    book.month_end(1, lots.debt)
    book.month = 2; lots.add(one, 65, 0, np.array([40])); book.month_end(2, lots.debt)
    f = book.flows()
    below = cal.months + 1
    assert f["reversed"][1].tolist() == [0, 100, 0]
    assert f["reversed"][2].tolist() == [0, 50, 0]
    assert f["reversed"][3].tolist() == [0, 0, 30]
    assert f["reversed"][below].tolist() == [0, 30, -30]
    assert f["outstanding"][below].tolist() == [0, -30, 0]
    assert f["outstanding"][3].tolist() == [0, 0, 10]
    assert int(lots.outstanding[0]) == 10


def test_interpreter_below_zero_and_repayment():
    """Jan 5 order a: 100 points (January); Feb 4 order b: 50 (February); Feb 8 a gift of 120 points
    (FIFO: January's 100, then 20 of February); Feb 10 order a comes back whole: its own lot is empty,
    so its 100 points come from the newest lots (February's last 30), the other 70 go below zero;
    Mar 6 order c: 40 points (March), all of them repay the debt (30 still owed).
    reversed: February {Feb 30}, below zero {Feb 70, Mar -40}, March {Mar 40}; ledger reversed 100 =
    30 + 70 - 40 + 40. Outstanding: March 0, below zero -30 = the ledger's -30."""
    prog = _compile("""program "Neg" {
  currency USD
  earn base on purchase { award 1 point per 1 USD of net amount }
  returns reverse earned points
  negative balance allowed
  reward gift {
    price 120 points
    worth 1 USD
    costs us 1 USD
  }
}
""")
    events = [Event("purchase", _at(2027, 1, 5), 10000, id="a"), Event("purchase", _at(2027, 2, 4), 5000, id="b"),
              Event("redeem", _at(2027, 2, 8), None, "gift"), Event("return", _at(2027, 2, 10), None, "a"),
              Event("purchase", _at(2027, 3, 6), 4000, id="c")]
    res = run(prog, events, until=dt.date(2027, 3, 31))
    assert res.reversed == 100 and res.outstanding == -30
    assert res.cohorts == {
        "2027-01": {"issued": 100, "redeemed": {"2027-02": 100}, "expired": {}, "reversed": {}, "outstanding": 0},
        "2027-02": {"issued": 50, "redeemed": {"2027-02": 20}, "expired": {}, "reversed": {"2027-02": 30},
                    "outstanding": 0},
        "2027-03": {"issued": 40, "redeemed": {}, "expired": {}, "reversed": {"2027-03": 40}, "outstanding": 0},
        "below zero": {"issued": 0, "redeemed": {}, "expired": {}, "reversed": {"2027-02": 70, "2027-03": -40},
                       "outstanding": -30},
    }


def _program(path: str):
    sf, _, _ = load_file(str(ROOT / path))
    program, diags = compile_source(sf)
    assert program is not None, diags
    return program


def _identities(flows: dict[str, np.ndarray]) -> None:
    """Both identities, written out here in numpy on the integer matrices (independently of `checks`)."""
    mat = {k: flows[f"cohort.{k}"] for k in ("issued", "redeemed", "expired", "reversed", "outstanding")}
    net = mat["issued"] - mat["redeemed"] - mat["expired"] - mat["reversed"]
    assert (np.cumsum(net, axis=2) == mat["outstanding"]).all()  # per cohort, at every month end
    for k in ("redeemed", "expired", "reversed", "outstanding"):
        assert (mat[k].sum(axis=1) == flows[f"program.points_{k}"]).all(), k
    assert (mat["issued"][:, 1:].sum(axis=1) == flows["program.points_issued"]).all()
    assert (mat["issued"][:, 0].sum(axis=1) == flows["program.points_opening"]).all()
    # nothing is issued to a month cohort outside its own month
    M = mat["issued"].shape[2]
    for m in range(M):
        others = np.delete(mat["issued"][:, 1 + m], m, axis=1)
        assert not others.any()


@pytest.mark.parametrize("path", ["rules/coffee.loyalty", "rules/supermarket.loyalty",
                                  "tests/simulator/fixtures/constructs.loyalty",
                                  "tests/simulator/fixtures/returns_counter.loyalty"])
def test_identities_on_whole_runs(path, busy_population):
    res = simulate(_program(path), busy_population, customers=400, months=9, trials=2, seed=3, workers=1)
    flows = res.ledger_flows
    assert sum(flows[f"cohort.{k}"].sum() for k in ("redeemed", "expired", "reversed")) > 0  # points do move
    _identities(flows)
    assert checks(flows) == (True, True)
    doc = cohorts_json(flows, res.months)
    assert doc["identity_ok"] and doc["matches_ledger"]
    # shares by age add up to one wherever a cohort issued points
    ba = doc["by_age"]
    for j in range(len(ba["age"])):
        parts = [ba[f"{k}_share"]["mean"][j] for k in ("redeemed", "expired", "reversed", "outstanding")]
        if None not in parts:
            assert sum(parts) == pytest.approx(1.0)


def test_cohorts_are_the_same_for_any_workers_and_blocks():
    text = (HERE / "fixtures" / "busy.yaml").read_text()
    pop = population_text(text)
    program = _program("tests/simulator/fixtures/constructs.loyalty")
    kw = dict(customers=6 * 256 + 100, months=5, trials=2, seed=11)
    runs = [simulate(program, pop, workers=w, block_size=256, chunk_size=c * 256, **kw) for w, c in
            [(1, 1), (1, 3), (2, 1), (2, 2)]]
    runs.append(simulate(program, pop, workers=1, block_size=512, chunk_size=512, **kw))
    runs.append(simulate(program, pop, workers=2, block_size=1024, chunk_size=1024, **kw))
    ref = runs[0].ledger_flows
    assert ref["cohort.redeemed"].sum() > 0
    for r in runs[1:4]:  # same RNG blocks: bit-identical
        for k in ("issued", "redeemed", "expired", "reversed", "outstanding"):
            assert np.array_equal(r.ledger_flows[f"cohort.{k}"], ref[f"cohort.{k}"]), k
    for r in runs[4:]:  # other blocks draw other customers, but the bookkeeping still reconciles
        _identities(r.ledger_flows)
    assert np.array_equal(runs[4].ledger_flows["cohort.outstanding"],
                          simulate(program, pop, workers=2, block_size=512, chunk_size=1024, **kw)
                          .ledger_flows["cohort.outstanding"])


def test_opening_balances_are_their_own_cohort(tmp_path):
    """300 customers who are not alive hold 500 opening points each; `expire points 2 months after
    earning` expires a lot of the first day on 2027-03-01 (month 2): all 150,000 opening points expire
    then, none is redeemed."""
    from test_customer_base_runs import TIERED, _dead_and_gold

    pop = _dead_and_gold(tmp_path, dead=300, gold=50)
    res = one_trial(pop, 350, months=4, program=TIERED)
    co = res.cohorts
    assert co["issued"][0].tolist() == [150_000, 0, 0, 0]
    assert co["expired"][0].tolist() == [0, 0, 150_000, 0]
    assert co["redeemed"][0].sum() == 0
    assert co["outstanding"][0].tolist() == [150_000, 150_000, 0, 0]


def test_reports_show_the_cohorts(busy_population, tmp_path):
    from simulator.accounting.views import attach_accounting
    from simulator.report.charts import cohort_age_chart
    from simulator.report.pages import render_html, render_markdown
    from simulator.report.tables import export_files, tables

    program = _program("rules/coffee.loyalty")
    res = simulate(program, busy_population, customers=300, months=8, trials=2, seed=2, workers=1)
    attach_accounting(res, program)
    doc = res.to_json()
    co = doc["accounting"]["cohorts"]
    assert co["rows"][0] == doc["months"][0] and co["ages"] == [3, 6, 12]
    first = co["table"][0]
    # after 3 months of the first cohort: the end of month 3 (0-based); after 12: not reached in 8 months
    assert first["after"]["12"] is None
    assert first["after"]["3"]["outstanding"]["mean"] == co["matrix"]["outstanding"][co["rows"][0]][3]
    md = render_markdown(doc)
    assert "### Points by issue month (cohorts)" in md and "After 3 months: redeemed / expired / outstanding" in md
    assert "both hold in every trial" in md
    assert "Points by issue month (cohorts)" in render_html(doc)
    assert cohort_age_chart(doc)[:4] == b"\x89PNG"
    tabs = tables(doc)
    cols, rows = tabs["cohorts"]
    assert cols == ["cohort", "month", "age_months", "issued", "redeemed", "expired", "reversed", "outstanding"]
    M = len(doc["months"])
    assert len(rows) == sum(M - doc["months"].index(r) for r in co["rows"])  # each cohort from its month on
    files = export_files(doc)
    assert "cohorts.csv" in files and "cohort_ages.csv" in files and "cohorts.parquet" in files


def test_book_oldest_first_one_entry_and_spread():
    """The cohort book alone (30-day months): an oldest-first take is the same whether the oldest held
    cohort covers it (one entry) or it spreads over several (the current month's earnings included).
    Customer 0: opening 10, month 0 earns 5, month 1 earns 8; customer 1: month 0 20, month 1 4;
    customer 2: month 0 7. In month 1 they redeem 12, 22, 3: c0 10 opening + 2 of month 0 -> (0, 3, 8);
    c1 20 of month 0 + 2 of month 1 -> (0, 0, 2); c2 3 of month 0 -> (0, 4, 0). Then c0 redeems 3 and
    c2 4 (each all of its oldest cohort, month 0). In month 2 c1 redeems 2 (its month-1 cohort).
    Redeemed in month 1: opening 10, month 0 2 + 20 + 3 + 3 + 4 = 32, month 1 2; in month 2: month 1 2.
    Outstanding: month 0 opening 10, month 0 5 + 20 + 7 = 32; month 1 month 1 8 + 4 - 2 = 10 (the rest
    0); month 2 month 1 10 - 2 = 8 (only customer 0's 8)."""
    from simulator.engine.cohorts import CohortBook

    book = CohortBook(3, np.arange(120) // 30, 4, "none")
    book.opening(np.array([0]), np.array([10]))
    book.earned(np.array([0, 1, 2]), 5, np.array([5, 20, 7]), None)
    book.month_end(0, None)
    book.month = 1
    book.earned(np.array([0, 1]), 35, np.array([8, 4]), None)
    book.take_oldest(np.array([0, 1, 2]), np.array([12, 22, 3]), "redeemed")
    book.take_oldest(np.array([0, 2]), np.array([3, 4]), "redeemed")
    book.month_end(1, None)
    book.month = 2
    book.take_oldest(np.array([1]), np.array([2]), "redeemed")
    book.month_end(2, None)
    f = book.flows()
    # rows: 0 opening, 1 + m month m, 5 below zero
    assert f["redeemed"][:, 1].tolist() == [10, 32, 2, 0, 0, 0]
    assert f["redeemed"][:, 2].tolist() == [0, 0, 2, 0, 0, 0]
    assert f["outstanding"][:, 0].tolist() == [10, 32, 0, 0, 0, 0]
    assert f["outstanding"][:, 1].tolist() == [0, 0, 10, 0, 0, 0]
    assert f["outstanding"][:, 2].tolist() == [0, 0, 8, 0, 0, 0]
    assert book.held.tolist() == [[0, 0, 8, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]]
    assert book.drift() == 0
