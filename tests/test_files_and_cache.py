"""Files the tools write (F22), the parser cache that cannot run code (F23), and a checker that
stops after the rule limit and compares rules near-linearly (F2)."""

from __future__ import annotations

import json
import os
import pickle
import stat
from pathlib import Path

import pytest

from rulelang.check import program_warnings as check_warnings
from rulelang.syntax import parser, parser_cache
from rulelang.check.checker import check
from rulelang.tools.cli import main
from rulelang.limits import MAX_RULES

ROOT = Path(__file__).resolve().parent.parent
COFFEE = ROOT / "rules" / "coffee.loyalty"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out + err


# ---------------------------------------------------------------- F22: writing files


def test_convert_writes_through_a_symlink_and_keeps_permissions(capsys: pytest.CaptureFixture[str],
                                                                tmp_path: Path) -> None:
    target = tmp_path / "target.yaml"
    target.write_text("old\n", encoding="utf-8")
    target.chmod(0o640)
    link = tmp_path / "link.yaml"
    link.symlink_to("target.yaml")
    code, output = run(capsys, "convert", str(COFFEE), "--to", "yaml", "-o", str(link))
    assert code == 0, output
    assert link.is_symlink() and os.readlink(link) == "target.yaml"
    # the text form's opening comments come first, then the program
    assert "\nprogram:\n  name: Bean Club" in target.read_text(encoding="utf-8")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.yaml", "target.yaml"]  # no temp file left


def test_fmt_writes_through_a_symlink(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    real = tmp_path / "real.loyalty"
    real.write_text(COFFEE.read_text(encoding="utf-8").replace("  currency USD", "  currency    USD"),
                    encoding="utf-8")
    link = tmp_path / "link.loyalty"
    link.symlink_to(real)
    code, output = run(capsys, "fmt", str(link))
    assert code == 0, output
    assert link.is_symlink()
    assert "  currency USD\n" in real.read_text(encoding="utf-8")


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_convert_refuses_a_path_that_is_not_a_regular_file(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                           kind: str) -> None:
    out = tmp_path / "out.yaml"
    if kind == "fifo":
        os.mkfifo(out)
    else:
        out.mkdir()
    code, output = run(capsys, "convert", str(COFFEE), "--to", "yaml", "-o", str(out))
    assert code == 1
    assert f"cannot write {out}" in output and "internal error" not in output
    assert stat.S_ISFIFO(out.stat().st_mode) if kind == "fifo" else out.is_dir()  # left as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.yaml"]


def test_convert_into_a_missing_folder_is_an_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, output = run(capsys, "convert", str(COFFEE), "--to", "yaml", "-o", str(tmp_path / "no" / "x.yaml"))
    assert code == 1 and "cannot write" in output


def test_a_new_file_gets_the_permissions_of_the_umask(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        code, _ = run(capsys, "convert", str(COFFEE), "--to", "yaml", "-o", str(tmp_path / "new.yaml"))
    finally:
        os.umask(old)
    assert code == 0
    assert stat.S_IMODE((tmp_path / "new.yaml").stat().st_mode) == 0o644  # 0o666 without 0o022


def test_reading_stops_at_the_file_size_limit(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from rulelang.syntax import loader

    monkeypatch.setattr(loader, "MAX_FILE_BYTES", 100)
    path = tmp_path / "big.loyalty"
    path.write_text("#" * 101, encoding="utf-8")
    text, diags = loader.read_text(str(path))
    assert text is None and [d.code for d in diags] == ["RL001"]
    path.write_text("#" * 100, encoding="utf-8")
    text, diags = loader.read_text(str(path))
    assert text == "#" * 100 and diags == []


# ---------------------------------------------------------------- F23: the parser cache


def _fresh_parser(monkeypatch: pytest.MonkeyPatch, cache_home: Path):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_home))
    monkeypatch.delenv("LOYALTY_NO_CACHE", raising=False)
    return parser.build_parser()


def _cache_files(cache_home: Path) -> list[Path]:
    return sorted((cache_home / "loyalty-rules").glob("grammar-*.json"))


def test_the_cache_is_json_and_a_cached_parser_parses_the_same(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    built = _fresh_parser(monkeypatch, tmp_path)
    (cache_file,) = _cache_files(tmp_path)
    doc = json.loads(cache_file.read_text(encoding="utf-8"))
    assert doc["format"] == parser_cache.FORMAT
    loads = []
    real_load = parser_cache.Lark._load
    monkeypatch.setattr(parser_cache.Lark, "_load", lambda self, *a, **k: loads.append(1) or real_load(self, *a, **k))
    cached = _fresh_parser(monkeypatch, tmp_path)
    assert loads == [1]  # the second parser came from the cache
    text = COFFEE.read_text(encoding="utf-8")
    assert cached.parse(text, start="start") == built.parse(text, start="start")


def _evil_pickle(flag: Path) -> bytes:
    class Evil:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (os.system, (f"echo code ran > {flag}",))

    return pickle.dumps(Evil())


def test_a_tampered_cache_is_ignored_and_runs_no_code(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    flag = tmp_path / "PWNED"
    _fresh_parser(monkeypatch, tmp_path)
    (cache_file,) = _cache_files(tmp_path)
    good = cache_file.read_text(encoding="utf-8")
    doc = json.loads(good)
    evil = _evil_pickle(flag)
    # the old pickle file name, a pickle in place of the JSON, a changed payload with the old
    # checksum, and a payload that is not lark's data but carries a right checksum
    (tmp_path / "loyalty-rules" / "grammar.lark-cache").write_bytes(good.split("\n")[0].encode() + b"\n" + evil)
    wrong_payload = dict(doc, payload=doc["payload"].replace('"start"', '"begin"', 1))
    not_lark = json.dumps([{"d": []}, {"d": []}])
    forged = dict(doc, payload=not_lark, sha256=parser_cache._checksum(not_lark))
    text = COFFEE.read_text(encoding="utf-8")
    for content in (evil, json.dumps(wrong_payload).encode(), json.dumps(forged).encode(), b"{", b""):
        cache_file.write_bytes(content)
        rebuilt = _fresh_parser(monkeypatch, tmp_path)
        assert rebuilt.parse(text, start="start") is not None
        assert not flag.exists()
        assert parser_cache._read(str(cache_file), doc["key"]) is not None  # rewritten, valid again


def test_the_cache_decodes_every_tagged_value_back_and_refuses_other_objects() -> None:
    value = {"states": {(1, "a"): [("x", frozenset({2, 3})), {4, 5}], 0: None}, "flag": True, "n": 2.5}
    text = json.dumps(parser_cache._encode(value))
    back = json.loads(text, object_hook=parser_cache._untag)
    assert back == value
    assert isinstance(back["states"][(1, "a")][0], tuple) and type(back["states"][(1, "a")][0][1]) is frozenset
    assert type(back["states"][(1, "a")][1]) is set
    for bad in ('{"x": 1}', '{"t": 1}', '{"d": [[1]]}', '{"d": [[[1], 2]]}', '{"t": [], "s": []}'):
        with pytest.raises((ValueError, TypeError)):
            json.loads(bad, object_hook=parser_cache._untag)


def test_no_cache_when_asked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LOYALTY_NO_CACHE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    parser.build_parser()
    assert not (tmp_path / "loyalty-rules").exists()


def test_the_cache_key_follows_the_grammar_and_versions() -> None:
    options = {"parser": "lalr", "start": ["start"]}
    key = parser_cache.cache_key("a: b", options)
    assert key == parser_cache.cache_key("a: b", dict(options, postlex=object()))  # runtime objects do not count
    assert key != parser_cache.cache_key("a: c", options)
    assert key != parser_cache.cache_key("a: b", dict(options, start=["other"]))


# ---------------------------------------------------------------- F2: many rules


def _many_rules(n: int, broken_at: int | None = None) -> str:
    rules = "".join(
        f'  earn r{i} on purchase when category == "c{i}" {{\n    award 1 {"stars" if i == broken_at else "points"}\n  }}\n'
        for i in range(n))
    return f'program "P" {{\n  currency USD\n{rules}  expire points 12 months after earning\n}}\n'


def test_rules_past_the_limit_are_not_checked() -> None:
    # rule MAX_RULES + 10 has an unknown unit: past the limit, so only RL401 is reported
    sf, diags = parser.parse_text(_many_rules(MAX_RULES + 50, broken_at=MAX_RULES + 10), "many.loyalty")
    assert sf is not None, diags
    errors = [d for d in check(sf) if d.is_error]
    assert [d.code for d in errors] == ["RL401"]
    # rule MAX_RULES - 1 (the last one checked) has it: reported as well
    sf, _ = parser.parse_text(_many_rules(MAX_RULES + 50, broken_at=MAX_RULES - 1), "many.loyalty")
    assert sorted(d.code for d in check(sf) if d.is_error) == ["RL201", "RL401"]


def test_double_earn_comparisons_grow_linearly(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rules pinned to different categories exclude each other; a rule is compared only with the
    earlier rules its category does not exclude (none here), not with every earlier rule
    (n * (n - 1) / 2 = 499,500 comparisons for 1,000 rules)."""
    calls = []
    real = check_warnings._exclusive
    monkeypatch.setattr(check_warnings, "_exclusive", lambda a, b: calls.append(1) or real(a, b))
    sf, _ = parser.parse_text(_many_rules(MAX_RULES), "many.loyalty")
    found = check(sf)
    assert not [d for d in found if d.code == "RL303"]
    assert len(calls) == 0
    # two rules on one category do overlap, and are still found
    sf, _ = parser.parse_text(_many_rules(MAX_RULES - 1).replace('"c7"', '"c3"'), "many.loyalty")
    double = [d for d in check(sf) if d.code == "RL303"]
    assert len(double) == 1 and "`r3` and `r7`" in double[0].message
