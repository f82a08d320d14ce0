"""The transaction reader: formats, dates, amounts, returns, skipped rows, and every bad-input error.

Every expected value is worked out from the few rows written in each test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rulelang.diagnostics import render_text
from simulator.transactions.columns import load_mapping_file, standard_columns
from simulator.transactions.reader import ColumnMap, TransactionsError, read_transactions

CDNOW = Path(__file__).resolve().parent.parent / "fixtures" / "cdnow" / "transactions.csv"


def write(tmp_path: Path, text: str, name: str = "t.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def error_of(path: Path, columns: ColumnMap = ColumnMap(), **kw) -> tuple[str, str, str]:
    with pytest.raises(TransactionsError) as info:
        read_transactions(path, columns, **kw)
    d = info.value.diagnostics[0]
    return d.code, d.message, render_text(info.value.diagnostics, info.value.sources)


# ------------------------------------------------------------------ good input

def test_rows_are_sorted_by_customer_then_time_and_amounts_are_cents(tmp_path: Path) -> None:
    p = write(tmp_path, "customer_id,date,amount\nb,2026-03-02,4\na,2026-02-01,10.50\na,2026-01-05,0.07\n")
    t = read_transactions(p)
    assert t.customer_ids.tolist() == ["a", "b"]
    assert t.customer.tolist() == [0, 0, 1]
    assert t.time.astype(str).tolist() == ["2026-01-05T00:00:00", "2026-02-01T00:00:00", "2026-03-02T00:00:00"]
    assert t.amount_cents.tolist() == [7, 1050, 400]
    assert t.is_return.tolist() == [False, False, False]
    assert t.skipped == () and t.rows_read == 3


def test_a_negative_amount_is_a_return_and_unmatched_returns_are_counted(tmp_path: Path) -> None:
    p = write(tmp_path, "customer_id,date,amount\na,2026-01-05,20\na,2026-01-09,-5.5\n"
                        "b,2026-01-02,-3\nc,2026-01-03,8\nc,2026-01-01,-8\n")
    t = read_transactions(p)
    # b's return has no purchase at all; c's return is dated before c's only purchase
    assert t.skipped == (("return without a matching purchase", 2),)
    assert t.customer_ids.tolist() == ["a", "c"]
    assert t.amount_cents.tolist() == [2000, 550, 800]
    assert t.is_return.tolist() == [False, True, False]


def test_returns_match_their_order_id(tmp_path: Path) -> None:
    p = write(tmp_path, "customer_id,date,amount,kind,order\n"
                        "a,2026-01-05,20,purchase,o1\n"
                        "a,2026-01-06,20,Return,o1\n"     # matched (kind is case-insensitive)
                        "a,2026-01-07,5,return,o9\n"      # no order o9
                        "b,2026-01-08,5,return,o1\n")     # o1 is a's order, not b's
    t = read_transactions(p, ColumnMap(kind="kind", order="order"))
    assert t.is_return.tolist() == [False, True]
    assert t.order.tolist() == ["o1", "o1"]
    assert t.skipped == (("return without a matching purchase", 2),)


def test_rows_without_customer_date_or_amount_are_skipped_and_counted(tmp_path: Path) -> None:
    p = write(tmp_path, "customer_id,date,amount\na,2026-01-05,1\n,2026-01-05,1\na,,2\na,2026-01-06,\n"
                        "a,2026-01-07,0\n")
    t = read_transactions(p)
    assert dict(t.skipped) == {"no customer id": 1, "no date": 1, "no amount": 1}
    assert t.amount_cents.tolist() == [100, 0]  # a free item is a purchase


@pytest.mark.parametrize("text, expected, day_first", [
    ("31/12/2026", "2026-12-31", True), ("12/31/2026", "2026-12-31", False),
    ("31.12.2026", "2026-12-31", True), ("20261231", "2026-12-31", None),
    ("2026-12-31T10:15:30.5+02:00", "2026-12-31T10:15:30", None), ("2026/12/31", "2026-12-31", None),
])
def test_date_forms_are_detected(tmp_path: Path, text: str, expected: str, day_first: bool | None) -> None:
    second = {True: "05/01/2026", False: "01/05/2026"}.get(day_first, "")
    if text.count(".") == 2:
        second = "05.01.2026"
    rows = f"a,{text},1\n" + (f"a,{second},1\n" if second else "")
    t = read_transactions(write(tmp_path, "customer_id,date,amount\n" + rows))
    assert str(t.time[-1]).startswith(expected)
    if day_first is not None:
        assert str(t.time[0]) == "2026-01-05T00:00:00"  # the second row read the same way
        assert ("day-first" if day_first else "month-first") in t.date_note


def test_stated_date_format(tmp_path: Path) -> None:
    p = write(tmp_path, "customer_id,date,amount\na,03/04/2026,1\n")
    assert str(read_transactions(p, date_format="%d/%m/%Y").time[0]) == "2026-04-03T00:00:00"
    assert str(read_transactions(p, date_format="%m/%d/%Y").time[0]) == "2026-03-04T00:00:00"


def test_semicolon_csv_with_decimal_comma(tmp_path: Path) -> None:
    p = write(tmp_path, "customer_id;date;amount\na;31.12.2026;12,50\na;05.01.2027;-1,5\n")
    t = read_transactions(p, decimal=",")
    assert t.amount_cents.tolist() == [1250, 150] and t.is_return.tolist() == [False, True]


def test_parquet_with_typed_columns(tmp_path: Path) -> None:
    table = pa.table({"cust": pa.array([7, 7, 3]), "ts": pa.array(np.array(
        ["2026-01-02T08:00", "2026-01-01T09:30", "2026-02-01T00:00"], dtype="datetime64[s]")),
        "amount": pa.array([1.25, 2.5, 3.0]), "category": ["coffee", "tea", ""]})
    pq.write_table(table, tmp_path / "t.parquet")
    t = read_transactions(tmp_path / "t.parquet", ColumnMap(customer="cust", time="ts", category="category"))
    assert t.customer_ids.tolist() == ["3", "7"]
    assert t.time.astype(str).tolist() == ["2026-02-01T00:00:00", "2026-01-01T09:30:00", "2026-01-02T08:00:00"]
    assert t.amount_cents.tolist() == [300, 250, 125]
    assert t.category.tolist() == ["", "tea", "coffee"]


def test_customer_columns_take_the_first_non_empty_value(tmp_path: Path) -> None:
    p = write(tmp_path, "customer_id,date,amount,dob,city\na,2026-01-02,1,,Paris\na,2026-01-01,1,1980-05-01,\n"
                        "b,2026-01-01,1,,\n")
    t = read_transactions(p, ColumnMap(birthday="dob", customer_columns=("city",)))
    assert t.customer_table["birthday"].tolist() == ["1980-05-01", ""]
    assert t.customer_table["city"].tolist() == ["Paris", ""]


def test_mapping_file_and_standard_columns(tmp_path: Path) -> None:
    m = write(tmp_path, 'customer: client\ndate: day\namount: total\nattributes: [city]\ndate_format: "%d/%m/%Y"\n',
              "map.yaml")
    opts = load_mapping_file(str(m))
    assert opts.columns.customer == "client" and opts.columns.time == "day" and opts.date_format == "%d/%m/%Y"
    assert opts.columns.customer_columns == ("city",)
    filled, names = standard_columns(opts.columns, ["client", "day", "total", "Category", "type", "city"])
    assert filled.category == "Category" and filled.kind == "type" and names == ["category", "kind"]


def test_cdnow_fixture_reads_every_row() -> None:
    t = read_transactions(CDNOW, ColumnMap(customer="customer_seq", quantity="quantity"))
    assert t.rows_read == 6919 and t.n_rows == 6919 and t.n_customers == 2357
    assert t.date_format == "%Y%m%d"
    assert str(t.time.min()) == "1997-01-01T00:00:00" and str(t.time.max()) == "1998-06-30T00:00:00"
    assert t.amount_cents[:2].tolist() == [2933, 2973]  # customer 0001's first rows: 29.33 and 29.73


# ------------------------------------------------------------------ bad input

def test_missing_column_says_did_you_mean_with_the_header(tmp_path: Path) -> None:
    p = write(tmp_path, "customer,date,ammount\na,2026-01-01,1\n")
    code, msg, text = error_of(p, ColumnMap(customer="customer"))
    assert code == "RL803" and "`amount`" in msg
    assert "did you mean `ammount`?" in text and "`customer`, `date`, `ammount`" in text and "--amount-column" in text


def test_date_that_does_not_parse_names_row_line_and_column(tmp_path: Path) -> None:
    p = write(tmp_path, "customer_id,date,amount\na,2026-01-01,1\na,2026-02-30,1\n")
    code, msg, text = error_of(p)
    assert code == "RL804" and "row 2 (line 3), column `date`" in msg and "2026-02-30" in msg
    assert "t.csv:3:3:" in text and "%Y-%m-%d" in text


def test_mixed_date_forms_are_refused_at_the_first_different_row(tmp_path: Path) -> None:
    p = write(tmp_path, "customer_id,date,amount\na,2026-01-01,1\na,2026-01-02,1\na,01/03/2026,1\n")
    code, msg, _ = error_of(p)
    assert code == "RL804" and "row 3 (line 4)" in msg


def test_ambiguous_dates_ask_for_a_date_format_with_two_examples(tmp_path: Path) -> None:
    p = write(tmp_path, "customer_id,date,amount\na,03/04/2026,1\na,05/06/2026,1\n")
    code, msg, text = error_of(p)
    assert code == "RL805" and "03/04/2026" in msg and "05/06/2026" in msg and "row 2 (line 3)" in msg
    assert "--date-format %d/%m/%Y" in text and "--date-format %m/%d/%Y" in text


def test_non_number_amount_and_thousands_separator(tmp_path: Path) -> None:
    code, msg, _ = error_of(write(tmp_path, "customer_id,date,amount\na,2026-01-01,12 USD\n"))
    assert code == "RL806" and "row 1 (line 2), column `amount`" in msg and "12 USD" in msg
    code, _, text = error_of(write(tmp_path, 'customer_id,date,amount\na,2026-01-01,"1,234.50"\n'))
    assert code == "RL806" and "thousands separators" in text
    code, _, text = error_of(write(tmp_path, 'customer_id,date,amount\na,2026-01-01,"12,50"\n'))
    assert code == "RL806" and "--decimal ," in text


def test_empty_file_and_header_only(tmp_path: Path) -> None:
    assert error_of(write(tmp_path, ""))[0] == "RL801"
    assert error_of(write(tmp_path, "\n\n"))[0] == "RL801"
    code, msg, _ = error_of(write(tmp_path, "customer_id,date,amount\n"))
    assert code == "RL801" and "no rows" in msg


def test_broken_csv_unbalanced_quote_and_wrong_field_count(tmp_path: Path) -> None:
    code, msg, text = error_of(write(tmp_path, 'customer_id,date,amount\na,2026-01-01,1\na,2026-01-02,"12\n'))
    assert code == "RL802" and "never closed" in msg and "t.csv:3:" in text
    code, msg, text = error_of(write(tmp_path, "customer_id,date,amount\na,2026-01-01,1\na,2026-01-02\nb,2026-01-03,1\n"))
    assert code == "RL802" and "2 fields, the header has 3" in msg and "t.csv:3:" in text


def test_file_that_is_not_there_or_not_parquet(tmp_path: Path) -> None:
    assert error_of(tmp_path / "missing.csv")[0] == "RL800"
    assert error_of(write(tmp_path, "not parquet", "x.parquet"))[0] == "RL800"


def test_kind_value_and_mixed_currencies(tmp_path: Path) -> None:
    p = write(tmp_path, "customer_id,date,amount,kind\na,2026-01-01,1,purchse\n")
    code, msg, text = error_of(p, ColumnMap(kind="kind"))
    assert code == "RL808" and "did you mean `purchase`?" in text
    p = write(tmp_path, "customer_id,date,amount,currency\na,2026-01-01,1,EUR\na,2026-01-02,1,usd\n")
    code, msg, _ = error_of(p, ColumnMap(currency="currency"))
    assert code == "RL810" and "EUR, USD" in msg and "row 2 (line 3)" in msg
    p = write(tmp_path, "customer_id,date,amount,currency\na,2026-01-01,1,eur\n")
    assert read_transactions(p, ColumnMap(currency="currency")).currency == "EUR"


def test_no_usable_row(tmp_path: Path) -> None:
    code, msg, _ = error_of(write(tmp_path, "customer_id,date,amount\n,2026-01-01,1\na,2026-01-01,-3\n"))
    assert code == "RL811" and "no customer id: 1 rows" in msg and "return without a matching purchase: 1" in msg


def test_items_that_are_not_numbers(tmp_path: Path) -> None:
    p = write(tmp_path, "customer_id,date,amount,items\na,2026-01-01,1,two\n")
    code, msg, _ = error_of(p, ColumnMap(items="items"))
    assert code == "RL807" and "column `items`" in msg


def test_bad_mapping_file(tmp_path: Path) -> None:
    m = write(tmp_path, "customer: client\ncustmer: x\n", "map.yaml")
    with pytest.raises(TransactionsError) as info:
        load_mapping_file(str(m))
    d = info.value.diagnostics[0]
    assert d.code == "RL809" and d.span.line == 2 and "did you mean `customer`?" in (d.hint or "")
