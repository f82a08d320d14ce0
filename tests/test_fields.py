"""The table of built-in fields and events (rulelang.fields) drives every consumer.

For each field of the table: the checker reads it on exactly the events the table says, with
its type; a test, an events file and a YAML test can give it (when an event carries it) and a
rule then fires on the given value and not on another; the simulator accepts a program reading
every field, and both engines agree on it. The JSON Schema and the field tables of the docs
must say what the table says.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from rulelang import fields as table
from rulelang.check.compiler import compile_source
from rulelang.check.scope import build_scope
from rulelang.syntax.parser import parse_text
from rulelang.syntax.yaml_loader import load_yaml
from rulelang.tools.explain import BUILTIN_EVENT_KEYS, explain, load_events
from rulelang.tools.testing import run_tests

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "rulelang" / "syntax" / "schema" / "rulelang.schema.json").read_text(encoding="utf-8"))
GIVEN = [f for f in table.FIELDS if f.spelling is not None and f.spelling.test != table.MAIN_VALUE]

# One value of each form, and the same value as a condition, a test, an events file and YAML write it.
SAMPLE = {
    "text": ('"x"', '"z"', "x", "z"),
    "whole": ("3", "4", "3", "4"),
    "money": ("2 USD", "3 USD", "2.00", "3.00"),
}


def _compile(text: str):
    sf, diags = parse_text(text, "t.loyalty")
    assert sf is not None, [d.message for d in diags]
    program, diags = compile_source(sf)
    assert program is not None, [d.message for d in diags if d.is_error]
    return sf, program


def _program(condition: str, tests: str = "") -> str:
    return (f'program "T" {{\n  currency USD\n  point value 0.01 USD\n'
            f'  earn r on purchase when {condition} {{\n    award 1 point\n  }}\n}}\n{tests}')


def test_names_are_unique_and_forms_are_known() -> None:
    names = [f.name for f in table.FIELDS]
    assert len(names) == len(set(names))
    for f in table.FIELDS:
        assert f.type in ("money", "string", "number", "bool", "date", "weekday", "tier"), f.name
        assert (f.spelling is None) == (not f.carried_by), f.name
        assert f.form in (None, "money", "text", "whole"), f.name
        assert set(f.carried_by) <= set(f.readable_on or table.FED_EVENTS), f.name
    assert len(table.FED_EVENTS) == len(set(table.FED_EVENTS)) == len(table.EVENT_TYPES)
    assert set(table.EVENT_ALIASES.values()) <= set(table.FED_EVENTS)


@pytest.mark.parametrize("event", [*table.RULE_EVENTS, "review"])
def test_the_checker_reads_each_field_on_the_events_the_table_names(event: str) -> None:
    sf, diags = parse_text('program "T" {\n  currency USD\n  event review { rating: number }\n}\n', "t.loyalty")
    scope = build_scope(sf.program)
    readable = scope.fields_of(event)
    for f in table.FIELDS:
        assert (f.name in readable) == f.on(event), (f.name, event)
        if f.on(event):
            assert readable[f.name] == f.type


@pytest.mark.parametrize("field", GIVEN, ids=lambda f: f.name)
def test_a_test_an_events_file_and_yaml_give_each_carried_field(field) -> None:
    cond, other, file_value, file_other = SAMPLE[str(field.form)]
    condition = f"{field.name} == {cond}"
    tests = "".join(
        f'  test "{name}" {{\n    when purchase 10 USD {field.spelling.test} {value} on 2027-05-04\n'
        f'    expect earned {earned} points\n  }}\n'
        for name, value, earned in (("same", cond, 1), ("other", other, 0)))
    sf, program = _compile(_program(condition, tests))
    outcomes = run_tests(sf, program)
    assert [(o.name, o.passed) for o in outcomes] == [("same", True), ("other", True)]
    # the events file of `loyalty explain`
    assert field.spelling.events_file in BUILTIN_EVENT_KEYS["purchase"]
    for value, earned in ((file_value, 1), (file_other, 0)):
        text = (f"events:\n  - {{type: purchase, date: 2027-05-04, amount: 10.00, "
                f"{field.spelling.events_file}: {value}}}\n")
        events, diags = load_events(text, "e.yaml", program)
        assert events is not None, [d.message for d in diags]
        assert explain(program, events).earned == earned
    # the YAML form
    for value, earned in ((file_value + (" USD" if field.form == "money" else ""), 1),
                          (file_other + (" USD" if field.form == "money" else ""), 0)):
        text = ("program:\n  name: T\n  points: points\n  currency: USD\n  point_value: 0.01 USD\n"
                "  rules:\n    r:\n      on: purchase\n"
                f"      when: '{condition}'\n      actions:\n        - award: {{points: 1}}\n"
                "tests:\n  - name: t\n    when:\n"
                f"      - purchase: 10 USD\n        {field.spelling.yaml}: {value}\n        on: 2027-05-04\n"
                f"    expect:\n      - earned: {earned}\n")
        ysf, diags = load_yaml(text, "t.yaml")
        assert ysf is not None, [d.message for d in diags]
        yprogram, diags = compile_source(ysf)
        assert yprogram is not None, [d.message for d in diags if d.is_error]
        assert [o.passed for o in run_tests(ysf, yprogram)] == [True], value


def test_a_field_not_given_reads_its_default() -> None:
    # shipping 0, items 1 and quantity 0 when not given: `shipping == 0 USD and items == 1 and quantity == 0`
    # fires on a bare purchase
    defaults = [f for f in GIVEN if f.default is not None]
    assert {f.name for f in defaults} == {"shipping", "items", "quantity"}
    condition = " and ".join(f"{f.name} == {f.default}{' USD' if f.type == 'money' else ''}" for f in defaults)
    tests = '  test "bare" {\n    when purchase 10 USD on 2027-05-04\n    expect earned 1 points\n  }\n'
    sf, program = _compile(_program(condition, tests))
    assert [o.passed for o in run_tests(sf, program)] == [True]


def test_the_simulator_provides_every_field_and_agrees_with_the_interpreter() -> None:
    from simulator.engine.interpreter_check import compare_records
    from simulator.model.population import load_population_file
    from simulator.trials.montecarlo import simulate

    # one rule per field, each true for some purchases and false for others where it can be
    conditions = {
        "money": "{} >= 5 USD", "string": '{} != "gift_card"', "number": "{} >= 1", "bool": "{} == true",
        "date": "{} >= 2027-01-15", "weekday": "{} in [sat, sun]", "tier": "{} == Base",
    }
    rules = "".join(f"  earn r_{f.name} on purchase when {conditions[f.type].format(f.name)} {{\n"
                    f"    award {i + 1} points\n  }}\n" for i, f in enumerate(table.FIELDS))
    text = (f'program "T" {{\n  currency USD\n  point value 0.01 USD\n{rules}'
            "  tiers by points over lifetime {\n    tier Base from 0\n    tier Top from 100000\n  }\n}\n")
    _, program = _compile(text)
    population = load_population_file(ROOT / "tests" / "simulator" / "fixtures" / "busy.yaml")
    res = simulate(program, population, customers=100, months=2, trials=1, seed=3, workers=1, record=10)
    start, end = dt.date.fromisoformat(res.meta["start"]), dt.date.fromisoformat(res.meta["end"])
    assert sum(len(r["events"]) for r in res.records.values()) > 20
    assert compare_records(program, res.records, start, end) == []


# ---------------------------------------------------------------- schema and docs


def _find(node, test):
    if isinstance(node, dict):
        if test(node):
            return node
        children = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        found = _find(child, test)
        if found is not None:
            return found
    return None


def test_the_schema_gives_the_events_and_fields_of_the_table() -> None:
    event = _find(SCHEMA, lambda n: isinstance(n.get("properties"), dict) and "use_perk" in n["properties"])
    assert event is not None
    props = event["properties"]
    assert [k for k in props if k in table.EVENT_BY_NAME] == list(table.FED_EVENTS)
    keys = set(props) - set(table.FED_EVENTS) - {"on", "amount", "id", "lines"}  # the return's amount, the order id, a purchase's lines
    assert keys == {f.spelling.yaml for f in table.given_keys("purchase", "yaml") if f.spelling}
    for f in table.given_keys("purchase", "yaml"):
        prop = props[f.spelling.yaml]
        assert prop["description"] == "A purchase: " + f.doc.removeprefix("purchase: ") + ".", f.name
        if f.form == "money":
            assert prop.get("$ref") == "#/definitions/money", f.name
        else:
            types = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
            assert ("string" if f.form == "text" else "number") in types, f.name
    rule_on = _find(SCHEMA, lambda n: str(n.get("description", "")).startswith("The event the rule earns on:"))
    assert rule_on["description"] == f"The event the rule earns on: {', '.join(table.RULE_EVENTS)} or a declared event."


def _table_rows(text: str, header: str) -> list[list[str]]:
    lines = text.splitlines()
    start = lines.index(header)
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def _declared(name: str) -> bool:
    return "." in name or name.isupper() or name.startswith("<")


def test_the_semantics_field_table_is_the_table() -> None:
    text = (ROOT / "docs" / "semantics.md").read_text(encoding="utf-8")
    rows = _table_rows(text, "| field | type | meaning |")
    documented = {name.strip("`"): (typ, meaning) for name, typ, meaning in rows
                  if not any(_declared(n.strip("` ")) for n in name.split(" or "))}
    assert documented == {f.name: (f.type, f.doc) for f in table.FIELDS}
    events = re.search(r"^Built-in events: (.*), plus declared custom events\.$", text, re.M)
    assert events is not None and re.findall(r"`(\w+)`", events.group(1)) == list(table.RULE_EVENTS)


def test_the_language_guide_names_every_field() -> None:
    text = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    rows = _table_rows(text, "| field | meaning |")
    named = [n for cell, _ in rows for n in re.findall(r"`([^`]+)`", cell) if not _declared(n)]
    assert sorted(named) == sorted(f.name for f in table.FIELDS)


def test_the_yaml_guide_names_the_purchase_keys() -> None:
    text = (ROOT / "docs" / "yaml.md").read_text(encoding="utf-8")
    sentence = re.search(r"A purchase takes the fields (.*?);", text, re.S)
    assert sentence is not None
    keys = [f.spelling.yaml for f in table.given_keys("purchase", "yaml") if f.spelling]
    assert re.findall(r"`(\w+)`", sentence.group(1)) == [*keys, "id"]
