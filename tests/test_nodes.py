"""The node declarations (rulelang/syntax/nodes.py) against the AST, the grammar, the JSON
Schema and every reader and writer: each AST node type is declared once, and each reader
(text parser, YAML loader) and writer (formatter, YAML writer, diff wording) handles it."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from rulelang.check.compiler import compile_program, compile_source
from rulelang.syntax import ast
from rulelang.syntax.formatter import expr_to_text, format_source
from rulelang.syntax.nodes import ACTION_TYPES, EXPRESSION_TYPES, NODE_TYPES, NODES, UnhandledNode, dispatch
from rulelang.syntax.parser import parse_text
from rulelang.syntax.yaml_loader import load_yaml
from rulelang.syntax.yaml_writer import to_yaml
from rulelang.tools.diff import diff_programs
from rulelang.vocabulary import GRAMMAR_KEYWORDS, STATEMENT_WORDS
from simulator.whatif.sweep import ACTION_SETTINGS, resolve_parameter

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "rulelang" / "syntax" / "schema" / "rulelang.schema.json").read_text())
EVERY_NODE = ROOT / "tests" / "fixtures" / "fmt" / "identity.loyalty"  # "with every construct of the language"

AST_TYPES = {v for v in vars(ast).values()
             if isinstance(v, type) and dataclasses.is_dataclass(v) and v.__module__ == ast.__name__}


def node_types(value: object) -> set[type]:
    """Every AST node type inside `value` (comments included)."""
    found: set[type] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) in AST_TYPES:
            found.add(type(item))
            stack.extend(getattr(item, f.name) for f in dataclasses.fields(item))
        elif isinstance(item, tuple):
            stack.extend(item)
    return found


def parse_ok(text: str, path: str = "t.loyalty") -> ast.SourceFile:
    sf, diags = parse_text(text, path)
    assert sf is not None and not [d for d in diags if d.is_error], diags
    return sf


def load_ok(text: str) -> ast.SourceFile:
    sf, diags = load_yaml(text, "t.yaml")
    assert sf is not None and not [d for d in diags if d.is_error], diags
    return sf


# ---------------------------------------------------------------- the declarations


def test_every_ast_node_type_is_declared_once() -> None:
    assert set(NODE_TYPES) == AST_TYPES
    assert len(NODE_TYPES) == len(AST_TYPES) == 41  # counted in rulelang/syntax/ast.py


def test_declared_fields_are_the_dataclass_fields() -> None:
    for node, decl in NODES.items():
        names = {f.name for f in decl.fields}
        assert set(decl.yaml_fields) <= names, node.__name__
        assert set(decl.yaml_fields.values()) <= set(decl.yaml_keys), node.__name__
        assert len(set(decl.yaml_keys)) == len(decl.yaml_keys), node.__name__


def test_defaults_come_from_the_dataclass() -> None:
    assert NODES[ast.Award].defaults == {"per": None, "base": "net", "excluding": (), "to": "customer", "unit": "points",
                                         "only": ()}
    assert NODES[ast.PayWithPoints].defaults == {"minimum_balance": 0, "max_share": Decimal(100), "unit": None}
    assert "points" not in NODES[ast.Award].defaults  # a required field has no default


def test_statement_keywords_are_statement_words_of_the_grammar() -> None:
    for node, decl in NODES.items():
        if decl.keyword is None:
            continue
        assert decl.keyword in GRAMMAR_KEYWORDS, node.__name__
        if node not in EXPRESSION_TYPES:
            assert decl.keyword in STATEMENT_WORDS, node.__name__


def _schema_at(schema: Any, path: tuple[str, ...]) -> set[str]:
    """The property names the schema allows at `path` (`*` a map's value, `[]` a list item);
    alternatives (`anyOf`, `oneOf`) are searched for the first that goes on."""
    def resolve(node: Any) -> Any:
        while isinstance(node, dict) and "$ref" in node:
            node = SCHEMA["definitions"][node["$ref"].rsplit("/", 1)[1]]
        return node

    def step(node: Any, key: str | None) -> Any:
        node = resolve(node)
        if not isinstance(node, dict):
            return None
        if key is None and "properties" in node:
            return node
        if key == "*" and isinstance(node.get("additionalProperties"), dict):
            return node["additionalProperties"]
        if key == "[]" and "items" in node:
            return node["items"]
        if key is not None and key in node.get("properties", {}):
            return node["properties"][key]
        for alt in node.get("anyOf", []) + node.get("oneOf", []):
            found = step(alt, key)
            if found is not None:
                return found
        return None

    node = schema
    for key in path:
        node = step(node, key)
        assert node is not None, path
    node = step(node, None)
    assert node is not None, path
    return set(node["properties"])


def test_the_json_schema_has_the_declared_keys_of_every_node() -> None:
    checked = 0
    for node, decl in NODES.items():
        if decl.schema_path is None:
            continue
        keys = _schema_at(SCHEMA, decl.schema_path)
        if node is ast.EventSpec:  # also the event kinds and their fields, from the built-in field table
            assert set(decl.yaml_keys) < keys and {"purchase", "category"} <= keys
        else:
            assert keys == set(decl.yaml_keys), node.__name__
        checked += 1
    assert checked >= 20
    assert set(NODES[ast.Cashback].yaml_keys) < set(NODES[ast.Award].yaml_keys)  # `award: {percent: 2}`
    actions = _schema_at(SCHEMA, ("program", "rules", "*", "actions", "[]"))
    assert actions == {NODES[t].yaml_key for t in ACTION_TYPES}


# ---------------------------------------------------------------- every reader and writer


@pytest.fixture(scope="module")
def every_node() -> ast.SourceFile:
    sf = parse_ok(EVERY_NODE.read_text(encoding="utf-8"), str(EVERY_NODE))
    assert node_types(sf) == AST_TYPES  # the text parser reads every node type
    return sf


def test_the_formatter_writes_every_node_type_and_the_parser_reads_it_back(every_node: ast.SourceFile) -> None:
    again = parse_ok(format_source(every_node))
    assert again.program == every_node.program and again.tests == every_node.tests
    assert node_types(again) == AST_TYPES


def test_the_yaml_writer_writes_every_node_type_and_the_loader_reads_it_back(every_node: ast.SourceFile) -> None:
    again = load_ok(to_yaml(every_node))
    assert again.program == every_node.program and again.tests == every_node.tests
    assert node_types(again) == AST_TYPES - {ast.Comment}  # the YAML form does not carry comments


def test_the_diff_words_every_rule_and_action(every_node: ast.SourceFile) -> None:
    program = every_node.program
    assert program is not None
    added = diff_programs(ast.Program(program.name), program)
    rules = [c for c in added.changes if c.section == "rule"]
    assert [c.name for c in rules] == [r.name for r in program.rules]
    assert {type(a) for r in program.rules for a in r.actions} == set(ACTION_TYPES)
    # every action changed in place: one wording per action type, none left out
    changed = ast.Program(program.name, rules=tuple(
        dataclasses.replace(r, actions=tuple(_changed(a) for a in r.actions)) for r in program.rules))
    diff = diff_programs(dataclasses.replace(program, rules=changed.rules), program)
    labels = {f.label.split(" on ")[0].split(" of ")[0] for c in diff.changes for f in c.fields}
    assert {"multiplier", "cashback", "discount", "perk"} <= labels
    assert labels & {"award", "earn rate"}


def _changed(a: ast.Action) -> ast.Action:
    if isinstance(a, ast.Award):
        return dataclasses.replace(a, points=a.points + 1)
    if isinstance(a, ast.Cashback):
        return dataclasses.replace(a, percent=a.percent + 1)
    if isinstance(a, ast.Multiply):
        return dataclasses.replace(a, factor=a.factor + 1)
    if isinstance(a, ast.Discount):
        return dataclasses.replace(a, percent=(a.percent or Decimal(0)) + 1) if a.percent is not None \
            else dataclasses.replace(a, amount=ast.Money(a.amount.amount + 1, a.amount.currency))  # type: ignore[union-attr]
    return dataclasses.replace(a, name=a.name + "_x")  # Perk


# ---------------------------------------------------------------- no silent fallbacks


def test_a_node_without_a_handler_is_an_error_not_text() -> None:
    stray = ast.Money(Decimal(1), "USD")  # a node, but neither a condition nor an action
    with pytest.raises(UnhandledNode, match="Money"):
        expr_to_text(stray)  # type: ignore[arg-type]
    rule = ast.EarnRule("r", "purchase", actions=(stray,))  # type: ignore[arg-type]
    with pytest.raises(UnhandledNode, match="Money"):
        format_source(ast.SourceFile("t.loyalty", ast.Program("p", rules=(rule,))))
    with pytest.raises(UnhandledNode, match="Money"):
        to_yaml(ast.SourceFile("t.yaml", ast.Program("p", rules=(rule,))))
    with pytest.raises(UnhandledNode, match="Money"):
        diff_programs(ast.Program("p"), ast.Program("p", rules=(rule,)))


def test_a_handler_table_must_cover_its_union() -> None:
    with pytest.raises(TypeError, match="Multiply"):
        dispatch("test", {t: str for t in ACTION_TYPES if t is not ast.Multiply}, ACTION_TYPES)
    with pytest.raises(TypeError, match="Money"):
        dispatch("test", {**{t: str for t in ACTION_TYPES}, ast.Money: str}, ACTION_TYPES)


# ---------------------------------------------------------------- the checker, the compiler and the sweep


def test_the_checker_and_the_compiler_handle_every_node_type(every_node: ast.SourceFile) -> None:
    program, diags = compile_source(every_node)
    assert program is not None and not [d for d in diags if d.is_error], diags
    assert {type(a).__name__ for r in program.rules for a in r.actions} >= {
        "FixedAward", "RateAward", "QuantityAward", "Multiplier", "DiscountAction", "PerkAction"}


def test_a_node_without_a_branch_in_the_checker_or_the_compiler_is_an_error() -> None:
    stray = ast.Money(Decimal(1), "USD")  # a node, but neither a condition nor an action
    rule = ast.EarnRule("r", "purchase", actions=(stray,))  # type: ignore[arg-type]
    odd = ast.EarnRule("r", "purchase", condition=stray, actions=(ast.Award(Decimal(1)),))  # type: ignore[arg-type]
    for bad, where in ((rule, "checker: action"), (odd, "checker: condition")):
        program, diags = compile_source(ast.SourceFile("t.loyalty", ast.Program("p", currency="USD", rules=(bad,))))
        # the checker stops with its internal error (a bug to report), never a silent pass
        assert program is None and [(d.code, where in d.message and "Money" in d.message) for d in diags] == [
            ("RL999", True)]
    with pytest.raises(UnhandledNode, match="compiler: action.*Money"):
        compile_program(ast.Program("p", currency="USD", rules=(rule,)))


def test_the_sweep_can_vary_every_action_type(every_node: ast.SourceFile) -> None:
    assert set(ACTION_SETTINGS) == set(ACTION_TYPES)
    program = every_node.program
    assert program is not None
    seen: set[type] = set()
    for ri, rule in enumerate(program.rules):
        for ai, action in enumerate(rule.actions):
            k = sum(type(a) is type(action) for a in rule.actions[:ai + 1])  # the k-th of its type in the rule
            word = ACTION_SETTINGS[type(action)][0]
            param = resolve_parameter(f"rule.{rule.name}.{word}.{k}", program, None)  # type: ignore[arg-type]
            assert param.current is not None and param.set_program is not None
            changed = param.set_program(program, Decimal(param.current) + 3).rules[ri].actions
            # exactly this action changes
            assert [a != b for a, b in zip(changed, rule.actions)] == [i == ai for i in range(len(rule.actions))]
            seen.add(type(action))
    assert seen == set(ACTION_TYPES)


def test_the_yaml_writer_uses_only_declared_keys(every_node: ast.SourceFile) -> None:
    import yaml

    doc = yaml.load(to_yaml(every_node), Loader=yaml.BaseLoader)  # keys as written (`on`, not True)
    program = doc["program"]
    assert set(program) <= set(NODES[ast.Program].yaml_keys)
    assert set(program) >= {"name", "rules", "tiers", "rewards"}  # the fixture has them (so the test can fail)
    for rule in program["rules"].values():
        assert set(rule) <= set(NODES[ast.EarnRule].yaml_keys)
    assert set(program["tiers"]) <= set(NODES[ast.TierSystem].yaml_keys)
    for tier in program["tiers"]["levels"].values():
        assert set(tier) <= set(NODES[ast.Tier].yaml_keys)
