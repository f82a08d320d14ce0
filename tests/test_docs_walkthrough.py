"""docs/simulator.md §11 "From your transactions to a forecast": its commands run on the bundled
data as written (the simulation shortened: fewer trials and months, the same command otherwise),
and docs/cli.md documents every flag of `loyalty fit` and `loyalty replay`."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from rulelang.tools.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent
SIMULATOR = ROOT / "docs" / "simulator.md"
CLI = ROOT / "docs" / "cli.md"
SECTION = "## 11. From your transactions to a forecast"


def _commands() -> list[list[str]]:
    text = SIMULATOR.read_text(encoding="utf-8")
    assert SECTION in text
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block, "the section starts with a ```sh block of the commands"
    lines = block.group(1).replace("\\\n", " ").splitlines()
    return [shlex.split(line) for line in lines if line.strip()]


def test_the_walkthrough_fits_simulates_and_replays_the_bundled_data(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    commands = _commands()
    assert [c[:2] for c in commands] == [["loyalty", "fit"], ["loyalty", "simulate"], ["loyalty", "replay"]]
    for argv in commands:
        args = [a.replace("/tmp/shop", str(tmp_path)) for a in argv[1:]]
        if args[0] == "simulate":
            args += ["--trials", "2", "--months", "2", "--workers", "1"]  # shorter than the page's run
        code = main(args)
        _, err = capsys.readouterr()
        assert code == 0, f"{' '.join(argv)}\n{err}"
    for f in ("ours.yaml", "ours.customers.csv", "fit/report.html", "fit/report.md", "fit/report.json",
              "forecast/report.json", "replay/report.json", "replay/report.html"):
        assert (tmp_path / f).is_file(), f
    assert "customers: ours.customers.csv" in (tmp_path / "ours.yaml").read_text(encoding="utf-8")


def _flags(command: str) -> set[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return {o for a in sub.choices[command]._actions for o in a.option_strings if o.startswith("--") and o != "--help"}


@pytest.mark.parametrize("command, heading", [("fit", "## `loyalty fit`"), ("replay", "## `loyalty replay`")])
def test_the_cli_reference_lists_every_flag(command, heading):
    text = CLI.read_text(encoding="utf-8")
    assert heading in text
    entry = text.split(heading, 1)[1].split("\n## ", 1)[0]
    if command == "replay":  # the column flags are listed once, under `loyalty fit`
        entry += text.split("## `loyalty fit`", 1)[1].split("\n## ", 1)[0]
    missing = sorted(f for f in _flags(command) if f"`{f}" not in entry)
    assert not missing, missing
