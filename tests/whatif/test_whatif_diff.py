"""The semantic diff names what was added, removed and changed, in a marketer's words."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

from rulelang.syntax import ast
from rulelang.tools.diff import diff_programs
from rulelang.syntax.loader import load_file

ROOT = Path(__file__).resolve().parents[2]
FIX = Path(__file__).with_name("fixtures")


def _program(path: Path) -> ast.Program:
    sf, diags, _ = load_file(str(path))
    assert sf is not None and sf.program is not None, diags
    return sf.program


def test_identical_programs_have_no_changes():
    p = _program(ROOT / "rules" / "coffee.loyalty")
    d = diff_programs(p, p)
    assert d.is_empty
    assert d.summary() == "0 rules added, 0 changed, 0 removed"


def test_text_and_yaml_forms_of_one_program_do_not_differ():
    assert diff_programs(_program(ROOT / "rules" / "coffee.loyalty"), _program(ROOT / "rules" / "coffee.yaml")).is_empty


def test_changed_rate_and_threshold_in_words():
    p = _program(ROOT / "rules" / "coffee.loyalty")
    base = p.rules[0]
    award = base.actions[0]
    new_base = dataclasses.replace(base, actions=(dataclasses.replace(award, points=Decimal(2)),))
    tiers = p.tiers
    gold = dataclasses.replace(tiers.tiers[1], threshold=Decimal(400))
    new = dataclasses.replace(p, rules=(new_base,) + p.rules[1:],
                              tiers=dataclasses.replace(tiers, tiers=(tiers.tiers[0], gold, tiers.tiers[2])))
    d = diff_programs(p, new)
    assert d.lines() == ["earn rate on base: 1 → 2 stars per 1 USD", "tier Gold threshold: 500 → 400 stars"]
    assert d.count("rule", "changed") == 1 and d.count("tier", "changed") == 1
    assert d.summary() == "0 rules added, 1 changed, 0 removed; tiers: 1 changed"


def test_added_removed_and_changed_rules_and_tiers():
    d = diff_programs(_program(FIX / "birthday.loyalty"), _program(FIX / "birthday_v2.loyalty"))
    by = {(c.section, c.name): c for c in d.changes}
    assert by["rule", "base"].kind == "changed"
    assert [f.text() for f in by["rule", "base"].fields] == ["earn rate on base: 1 → 2 points per 1 USD"]
    assert by["rule", "big_basket"].kind == "added"
    assert "amount >= 50 USD" in by["rule", "big_basket"].summary and "award 25 points" in by["rule", "big_basket"].summary
    assert by["tier", "Gold"].kind == "changed"
    assert [f.text() for f in by["tier", "Gold"].fields] == ["tier Gold threshold: 300 → 250 points"]
    assert by["tier", "Platinum"].kind == "added"
    assert by["reward", "gift_card"].kind == "removed"
    assert ("rule", "birthday_gift") not in by  # unchanged
    assert d.summary() == "1 rule added, 1 changed, 0 removed; tiers: 1 added, 1 changed; 1 other change"
    # and back again
    back = diff_programs(_program(FIX / "birthday_v2.loyalty"), _program(FIX / "birthday.loyalty"))
    assert back.count("rule", "removed") == 1 and back.count("tier", "removed") == 1


def test_rule_settings_changes():
    p = _program(ROOT / "rules" / "coffee.loyalty")
    wc = p.rules[1]
    new_wc = dataclasses.replace(wc, caps=(dataclasses.replace(wc.caps[0], limit=300),),
                                 actions=(dataclasses.replace(wc.actions[0], factor=Decimal(3)),), priority=5)
    d = diff_programs(p, dataclasses.replace(p, rules=(p.rules[0], new_wc) + p.rules[2:]))
    assert d.lines() == [
        "multiplier on weekend_coffee: 2x → 3x",
        "priority of weekend_coffee: 0 → 5",
        "cap of weekend_coffee: 200 → 300 stars per customer per month",
    ]


def test_program_settings_are_other_changes():
    p = _program(ROOT / "rules" / "coffee.loyalty")
    d = diff_programs(p, dataclasses.replace(p, point_cost=ast.Money(Decimal("0.005"), "USD"), pending_days=14))
    assert d.lines() == ["cost of one redeemed star: 0.004 → 0.005 USD", "pending period: 0 → 14 days"]
    assert d.other_changes() == 1
    assert d.to_json()["counts"]["rule"] == {"added": 0, "changed": 0, "removed": 0}
