"""`loyalty convert` keeps comments in both directions, and writes files with the usual mode."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from rulelang.syntax.convert_comments import yaml_comments
from rulelang.syntax.formatter import format_source
from rulelang.syntax.loader import load_file
from rulelang.syntax.parser import parse_text
from rulelang.tools.cli import main

ROOT = Path(__file__).resolve().parent.parent

TEXT = """# Tiny: one rule.
program "Tiny" {
  points "stars"
  currency USD
  point cost 0.004 USD  # what one redeemed star costs us

  # every dollar counts
  earn base on purchase {
    award 1 star per 1 USD of net amount  # rounded down
  }

  expire stars 12 months after earning
  returns reverse earned stars
  negative balance forbidden
}

# 10 USD x 1 star per USD = 10 stars
test "ten dollars" {
  when purchase 10 USD on 2027-05-04
  expect earned 10 stars
}

# the end
"""

# the YAML form, with comments where `convert --to yaml` places them
YAML = """# Tiny: one rule.
program:
  name: Tiny
  points: stars
  currency: USD
  point_cost: 0.004 USD  # what one redeemed star costs us
  rules:
    # every dollar counts
    base:
      on: purchase
      actions:
        - award: {points: 1, unit: star, per: 1 USD}  # rounded down
  expire:
    - {after_earning: 12 months}
  returns: {reverse: true, negative_balance: forbidden}
tests:
  # 10 USD x 1 star per USD = 10 stars
  - name: ten dollars
    when:
      - purchase: 10 USD
        on: 2027-05-04
    expect:
      - earned: 10

# the end
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_text_to_yaml_keeps_each_comment_beside_its_statement(capsys, tmp_path: Path) -> None:
    path = tmp_path / "tiny.loyalty"
    path.write_text(TEXT)
    code, out, err = run(capsys, "convert", str(path), "--to", "yaml")
    assert (code, err) == (0, "")
    assert out == YAML


def test_yaml_to_text_keeps_the_comments(capsys, tmp_path: Path) -> None:
    text_sf, _ = parse_text(TEXT, "tiny.loyalty")
    assert text_sf is not None and format_source(text_sf) == TEXT  # TEXT is already canonical
    path = tmp_path / "tiny.yaml"
    path.write_text("# yaml-language-server: $schema=../rulelang/schema/rulelang.schema.json\n" + YAML)
    code, out, _ = run(capsys, "convert", str(path), "--to", "text")
    assert code == 0
    assert out == TEXT  # the modeline is for YAML editors: it is not carried into the text form


def test_yaml_to_canonical_yaml_keeps_the_comments_and_the_modeline(capsys, tmp_path: Path) -> None:
    modeline = "# yaml-language-server: $schema=../rulelang/schema/rulelang.schema.json\n"
    # YAML in a different layout: keys out of the canonical order, the award as a block mapping
    messy = YAML.replace("  points: stars\n  currency: USD\n", "  currency: USD\n  points: stars\n").replace(
        "        - award: {points: 1, unit: star, per: 1 USD}  # rounded down\n",
        "        - award:  # rounded down\n            points: 1\n            unit: star\n            per: 1 USD\n")
    path = tmp_path / "tiny.yaml"
    path.write_text(modeline + messy)
    code, out, err = run(capsys, "convert", str(path), "--to", "yaml")
    assert (code, err) == (0, "")
    assert out == modeline + YAML  # canonical, every comment beside its key, the schema line on top
    path.write_text(out)
    assert run(capsys, "convert", str(path), "--to", "yaml")[1] == out  # and again: unchanged


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "rules").glob("*.yaml")))
def test_every_yaml_example_to_canonical_yaml_keeps_all_its_comments(capsys, name: str) -> None:
    source = ROOT / "rules" / name
    text = source.read_text()
    code, out, _ = run(capsys, "convert", str(source), "--to", "yaml")
    assert code == 0
    assert [c.text for c in yaml_comments(out, name)] == [c.text for c in yaml_comments(text, name)]


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "rules").glob("*.loyalty")))
def test_every_example_goes_to_yaml_and_back_with_all_its_comments(capsys, tmp_path: Path, name: str) -> None:
    source = ROOT / "rules" / name
    sf, _, text = load_file(str(source))
    assert sf is not None and sf.comments
    yaml_path, back_path = tmp_path / "p.yaml", tmp_path / "p.loyalty"
    assert run(capsys, "convert", str(source), "--to", "yaml", "-o", str(yaml_path))[0] == 0
    yaml_text = yaml_path.read_text()
    assert [c.text for c in yaml_comments(yaml_text, "p.yaml")] == [c.text for c in sf.comments]
    assert run(capsys, "convert", str(yaml_path), "--to", "text", "-o", str(back_path))[0] == 0
    assert back_path.read_text() == format_source(sf)  # the canonical text, comments in place


def test_a_hash_inside_a_yaml_value_is_not_a_comment() -> None:
    text = 'a: "x # y"  # real\nb: c#d\n# own line\nc: \'#\'\n'
    found = [(c.text, c.line, c.span.column) for c in yaml_comments(text, "f.yaml")]
    assert found == [("# real", 1, 13), ("# own line", 3, 1)]


def test_convert_writes_a_new_file_with_the_umask_mode(capsys, tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        assert run(capsys, "convert", str(ROOT / "rules" / "coffee.loyalty"), "--to", "yaml",
                   "-o", str(tmp_path / "new.yaml"))[0] == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.yaml").stat().st_mode) == 0o640  # 0o666 without 0o027
