"""Vouchers with a life and conversion schedules of months: both forms, the checker, the
interpreter's voucher ledger (worked by hand in the comments), tests and events files."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from rulelang.check.compiler import compile_source
from rulelang.run.interpreter import Event, EvaluationError, run
from rulelang.syntax.formatter import format_source
from rulelang.syntax.parser import parse_text
from rulelang.syntax.yaml_loader import load_yaml
from rulelang.syntax.yaml_writer import to_yaml
from rulelang.tools.testing import run_tests

ROOT = Path(__file__).resolve().parent.parent


def program_text(convert: str, tests: str = "") -> str:
    return f'''program "Card" {{
  currency EUR
  earn base on purchase {{ award 1 point per 1 EUR }}
  expire points 36 months after earning
  returns reverse earned points
  {convert}
}}
{tests}'''


def compiled(text: str):
    sf, diags = parse_text(text, "card.loyalty")
    assert sf is not None, [d.message for d in diags]
    program, diags = compile_source(sf)
    assert program is not None, [d.message for d in diags if d.is_error]
    return sf, program


def errors(text: str) -> list[tuple[str, int]]:
    sf, diags = parse_text(text, "card.loyalty")
    if sf is not None:
        _, diags = compile_source(sf)
    return [(d.code, d.span.line) for d in diags if d.is_error]


def yaml_errors(text: str) -> list[tuple[str, int]]:
    sf, diags = load_yaml(text, "card.yaml")
    if sf is not None:
        _, diags = compile_source(sf)
    return [(d.code, d.span.line) for d in diags if d.is_error]


def purchase(day: str, euros: int) -> Event:
    return Event("purchase", dt.datetime.fromisoformat(day + "T12:00"), euros * 100)


def use(day: str) -> Event:
    return Event("use_voucher", dt.datetime.fromisoformat(day + "T12:00"))


def at(day: str) -> dt.date:
    return dt.date.fromisoformat(day)


# ---------------------------------------------------------------- syntax, both forms

SCHEDULED = "convert every 500 points into a 5 EUR voucher valid 3 months at end of Feb, May, Aug, Nov"


def test_validity_and_a_month_list_compile_to_months():
    _, p = compiled(program_text(SCHEDULED))
    conv = p.conversion
    assert conv.months == (2, 5, 8, 11) and conv.valid == 3 and conv.valid_unit == "months"
    assert conv.runs_on(at("2027-03-01")) and conv.runs_on(at("2027-12-01"))  # after Feb, after Nov
    assert not conv.runs_on(at("2027-04-01")) and not conv.runs_on(at("2027-03-02"))


def test_years_are_twelve_months_and_full_month_names_any_case_are_read():
    _, p = compiled(program_text("convert every 500 points into a 5 EUR voucher valid 2 years at end of february, MAY"))
    assert p.conversion.months == (2, 5) and p.conversion.valid == 24


def test_the_classic_periods_keep_their_days():
    # quarter: the 1st of Jan, Apr, Jul, Oct (after Dec, Mar, Jun, Sep); year: 1 January
    _, q = compiled(program_text("convert every 500 points into a 5 EUR voucher at end of quarter"))
    assert [m for m in range(1, 13) if q.conversion.runs_on(dt.date(2027, m, 1))] == [1, 4, 7, 10]
    _, y = compiled(program_text("convert every 500 points into a 5 EUR voucher at end of year"))
    assert [m for m in range(1, 13) if y.conversion.runs_on(dt.date(2027, m, 1))] == [1]
    assert q.conversion.valid is None


def test_text_and_yaml_give_the_same_program_and_fmt_is_stable():
    text = program_text(SCHEDULED, '''
test "t" {
  when purchase 600 EUR on 2027-02-10
  when use voucher on 2027-03-05
  expect vouchers issued 1 used 1 expired 0 outstanding 0
  expect voucher balance 0 EUR
}
''')
    sf, p = compiled(text)
    formatted = format_source(sf)
    assert "valid 3 months at end of Feb, May, Aug, Nov" in formatted
    assert "when use voucher on 2027-03-05" in formatted
    assert "expect vouchers issued 1 used 1 expired 0 outstanding 0" in formatted
    assert format_source(parse_text(formatted, "f.loyalty")[0]) == formatted
    yaml_text = to_yaml(sf)
    assert "valid: 3 months, at_end_of: [Feb, May, Aug, Nov]" in yaml_text
    ysf, diags = load_yaml(yaml_text, "card.yaml")
    assert ysf is not None, diags
    yp, _ = compile_source(ysf)
    assert yp == p
    assert format_source(ysf) == formatted  # YAML -> text gives the canonical text back


# ---------------------------------------------------------------- bad input, both forms

def test_a_validity_of_zero_is_refused_in_both_forms():
    assert errors(program_text("convert every 500 points into a 5 EUR voucher valid 0 years at end of quarter")) \
        == [("RL260", 6)]
    yaml_text = '''program:
  name: Card
  currency: EUR
  convert: {every: 500, into: 5 EUR, valid: -1 years, at_end_of: quarter}
'''
    assert yaml_errors(yaml_text) == [("RL260", 4)]


def test_a_negative_validity_in_text_is_a_located_syntax_error():
    found = errors(program_text("convert every 500 points into a 5 EUR voucher valid -1 years at end of quarter"))
    assert found and found[0][1] == 6 and found[0][0].startswith("RL1")


def test_a_validity_without_a_unit_in_yaml_is_refused():
    yaml_text = "program:\n  name: Card\n  currency: EUR\n  convert: {every: 500, into: 5 EUR, valid: two years, at_end_of: month}\n"
    assert yaml_errors(yaml_text) == [("RL202", 4)]


def test_unknown_and_repeated_months_are_refused_with_hints_in_both_forms():
    text = program_text("convert every 500 points into a 5 EUR voucher valid 2 years at end of Feb, Mya, Feb")
    sf, diags = parse_text(text, "card.loyalty")
    _, diags = compile_source(sf)
    by_code = {d.code: d for d in diags if d.is_error}
    assert set(by_code) == {"RL261", "RL262"}
    assert "May" in (by_code["RL261"].hint or "") and by_code["RL261"].span.line == 6
    yaml_text = "program:\n  name: Card\n  currency: EUR\n  convert: {every: 500, into: 5 EUR, at_end_of: [feb, Mya, February]}\n"
    assert sorted(yaml_errors(yaml_text)) == [("RL261", 4), ("RL262", 4)]


def test_voucher_lines_in_a_program_whose_vouchers_have_no_life_are_refused():
    text = program_text("convert every 500 points into a 5 EUR voucher at end of quarter", '''
test "t" {
  when purchase 600 EUR on 2027-03-10
  when use voucher on 2027-04-05
  expect voucher balance 0 EUR
}
''')
    # lines: 1-7 the program, 8 blank, 9 `test`, 10 the purchase, 11 the use, 12 the expectation
    assert errors(text) == [("RL263", 11), ("RL263", 12)]
    sf, _ = parse_text(text, "card.loyalty")
    # in the YAML form (no `points:` line: the program does not write its unit): line 18 `- use_voucher:`, line 21
    # `- voucher_balance: 0 EUR`
    assert sorted(yaml_errors(to_yaml(sf))) == [("RL263", 18), ("RL263", 21)]


# ---------------------------------------------------------------- the interpreter's voucher ledger

def test_issue_use_and_expiry_worked_by_hand():
    # 1234 points on 15 Jan. 1 Mar (after Feb): floor(1234 / 500) = 2 vouchers, 1000 points
    # redeemed, 234 roll over; valid 3 months: usable through 31 May, expired on 1 Jun.
    # One used on 31 May costs 5 EUR; the other expires on 1 Jun: breakage, no cost.
    # 1 Jun (after May) converts floor(234 / 500) = 0.
    _, p = compiled(program_text(SCHEDULED))
    res = run(p, [purchase("2027-01-15", 1234), use("2027-05-31")], until=at("2027-06-01"))
    v = res.vouchers
    assert (v.issued, v.used, v.expired, v.outstanding) == (2, 1, 1, 0)
    assert res.voucher_cents == 500 and res.cost_cents == 500
    assert (res.redeemed, res.outstanding) == (1000, 234)


def test_before_the_first_expiry_both_vouchers_are_outstanding():
    # as above, one day earlier: 2 issued, none used, none expired; balance 2 x 5 = 10 EUR; no cost yet
    _, p = compiled(program_text(SCHEDULED))
    res = run(p, [purchase("2027-01-15", 1234)], until=at("2027-05-31"))
    assert (res.vouchers.issued, res.vouchers.outstanding) == (2, 2)
    assert res.vouchers.outstanding_cents == 1000 and res.voucher_cents == 0


def test_months_not_in_the_list_do_not_convert():
    # 600 points on 5 Mar: no conversion on 1 Apr (after Mar) nor 1 May; on 1 Jun (after May) 1 voucher
    _, p = compiled(program_text(SCHEDULED))
    assert run(p, [purchase("2027-03-05", 600)], until=at("2027-05-31")).vouchers.issued == 0
    assert run(p, [purchase("2027-03-05", 600)], until=at("2027-06-01")).vouchers.issued == 1


def test_the_voucher_that_expires_first_is_used_first():
    # monthly, valid 4 months: 500 points on 10 Jan -> voucher A on 1 Feb (ends 1 Jun); 500 on
    # 10 Feb -> voucher B on 1 Mar (ends 1 Jul). The use on 5 Mar spends A: on 1 Jun nothing
    # expires, B is outstanding; on 1 Jul B expires.
    _, p = compiled(program_text("convert every 500 points into a 5 EUR voucher valid 4 months at end of month"))
    events = [purchase("2027-01-10", 500), purchase("2027-02-10", 500), use("2027-03-05")]
    june = run(p, events, until=at("2027-06-01")).vouchers
    assert (june.used, june.expired, june.outstanding) == (1, 0, 1)
    july = run(p, events, until=at("2027-07-01")).vouchers
    assert (july.used, july.expired, july.outstanding) == (1, 1, 0)


def test_a_validity_in_days_ends_on_the_day_it_names():
    # issued 1 Mar, valid 10 days: usable through 10 Mar; on 11 Mar it has expired
    _, p = compiled(program_text("convert every 500 points into a 5 EUR voucher valid 10 days at end of Feb"))
    assert run(p, [purchase("2027-02-10", 500), use("2027-03-10")]).vouchers.used == 1
    with pytest.raises(EvaluationError) as exc:
        run(p, [purchase("2027-02-10", 500), use("2027-03-11")])
    d = exc.value.diagnostics[0]
    assert d.code == "RL264" and "issued 1, used 0, expired 1" in d.message and d.hint


def test_vouchers_without_a_life_still_cost_at_issue():
    # no validity: on 1 Apr 1 voucher of 5 EUR, booked as cost that day; no voucher ledger
    _, p = compiled(program_text("convert every 500 points into a 5 EUR voucher at end of quarter"))
    res = run(p, [purchase("2027-03-10", 600)], until=at("2027-04-01"))
    assert res.voucher_cents == 500 and res.vouchers is None
    assert "vouchers" not in res.to_json()


def test_the_voucher_totals_are_in_the_json_result():
    _, p = compiled(program_text(SCHEDULED))
    res = run(p, [purchase("2027-01-15", 1234)], until=at("2027-03-01"))
    assert res.to_json()["vouchers"] == {"issued": 2, "used": 0, "expired": 0, "outstanding": 2,
                                         "issued_cents": 1000, "used_cents": 0, "expired_cents": 0,
                                         "outstanding_cents": 1000}


# ---------------------------------------------------------------- tests and explain

def test_a_failing_voucher_expectation_says_what_the_run_gave():
    sf, p = compiled(program_text(SCHEDULED, '''
test "t" {
  when purchase 1234 EUR on 2027-01-15
  until 2027-03-01
  expect vouchers issued 3
  expect voucher balance 5 EUR
}
'''))
    [outcome] = run_tests(sf, p)
    messages = [f.message for f in outcome.failures]
    assert messages == ["expected vouchers issued 3, got 2 (issued 2, used 0, expired 0, outstanding 2)",
                        "expected voucher balance 5.00 EUR, got 10.00 EUR (issued 2, used 0, expired 0, outstanding 2)"]


def test_using_a_voucher_the_customer_does_not_hold_fails_the_test_at_its_line():
    sf, p = compiled(program_text(SCHEDULED, '''
test "t" {
  when purchase 400 EUR on 2027-01-15
  when use voucher on 2027-03-05
}
'''))
    [outcome] = run_tests(sf, p)
    assert not outcome.passed
    assert [(d.code, d.span.line) for d in outcome.diagnostics] == [("RL264", 11)]  # the `use voucher` line


def test_explain_refuses_a_voucher_use_in_an_events_file_at_its_line(tmp_path):
    prog = tmp_path / "card.loyalty"
    prog.write_text(program_text(SCHEDULED), encoding="utf-8")
    events = tmp_path / "events.yaml"
    events.write_text("events:\n  - {type: purchase, date: 2027-01-15, amount: 600}\n"
                      "  - {type: use_voucher, date: 2027-03-05}\n"
                      "  - {type: use_voucher, date: 2027-03-06}\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "rulelang", "explain", str(prog), "--events", str(events),
                           "--format", "json"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"{events}:4:5: error[RL264]" in proc.stderr + proc.stdout
    events.write_text("events:\n  - {type: purchase, date: 2027-01-15, amount: 600}\n"
                      "  - {type: use_voucher, date: 2027-03-05}\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "rulelang", "explain", str(prog), "--events", str(events),
                           "--format", "json"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["vouchers"]["used"] == 1


# ---------------------------------------------------------------- a reward that issues a voucher

REWARD = '''reward coupon {
    price 300 points
    voucher 3 EUR valid 1 year
  }'''


def test_a_reward_voucher_in_both_forms():
    sf, p = compiled(program_text(REWARD))
    [reward] = p.rewards
    assert (reward.voucher_cents, reward.valid, reward.valid_unit, reward.cost_cents) == (300, 12, "months", 0)
    assert "voucher 3 EUR valid 1 year\n" in format_source(sf)
    yaml_text = to_yaml(sf)
    assert "coupon: {price: 300, voucher: 3 EUR, valid: 1 year}" in yaml_text
    ysf, _ = load_yaml(yaml_text, "card.yaml")
    assert compile_source(ysf)[0] == p


def test_a_reward_voucher_is_issued_at_redemption_and_costs_when_used():
    # 400 points; redeem coupon on 1 Mar: 300 points redeemed, a 3 EUR voucher valid 1 year
    # (usable through 29 Feb 2028, expired on 1 Mar 2028); nothing booked at redemption.
    _, p = compiled(program_text(REWARD))
    redeem = Event("redeem", dt.datetime(2027, 3, 1, 12), None, "coupon")
    res = run(p, [purchase("2027-02-10", 400), redeem], until=at("2027-03-02"))
    assert (res.redeemed, res.outstanding, res.reward_cents, res.voucher_cents) == (300, 100, 0, 0)
    assert (res.vouchers.issued, res.vouchers.outstanding_cents) == (1, 300)
    spent = run(p, [purchase("2027-02-10", 400), redeem, use("2028-02-29")])
    assert spent.voucher_cents == 300 and spent.cost_cents == 300 and spent.vouchers.used == 1
    lapsed = run(p, [purchase("2027-02-10", 400), redeem], until=at("2028-03-01"))
    assert (lapsed.vouchers.expired, lapsed.vouchers.expired_cents, lapsed.cost_cents) == (1, 300, 0)


def test_conversion_and_reward_vouchers_are_spent_in_the_order_they_expire():
    # 1234 points on 15 Jan; redeem coupon on 20 Jan (300 points, 3 EUR, ends 20 Jan 2028);
    # 1 Mar: floor(934 / 500) = 1 conversion voucher of 5 EUR valid 3 months (ends 1 Jun 2027).
    # The first use spends the 5 EUR one (it ends first), the second the 3 EUR one.
    _, p = compiled(program_text(SCHEDULED + "\n  " + REWARD))
    events = [purchase("2027-01-15", 1234), Event("redeem", dt.datetime(2027, 1, 20, 12), None, "coupon"),
              use("2027-03-05")]
    first = run(p, events)
    assert (first.voucher_cents, first.vouchers.outstanding_cents) == (500, 300)
    both = run(p, events + [use("2027-03-06")])
    assert (both.voucher_cents, both.vouchers.used, both.vouchers.outstanding) == (800, 2, 0)


def test_a_reward_voucher_needs_a_validity_and_no_costs_us():
    yaml_text = '''program:
  name: Card
  currency: EUR
  rewards:
    a: {price: 300, voucher: 3 EUR}
    b: {price: 300, voucher: 3 EUR, valid: 1 year, costs_us: 1 EUR}
    c: {price: 300, valid: 1 year}
    d: {price: 300, voucher: 3 EUR, valid: 0 days}
'''
    assert sorted(yaml_errors(yaml_text)) == [("RL260", 8), ("RL265", 5), ("RL265", 6), ("RL265", 7)]
    text = program_text('''reward b {
    price 300 points
    voucher 3 EUR valid 0 months
    costs us 1 EUR
  }''')
    assert sorted(errors(text)) == [("RL260", 6), ("RL265", 6)]
