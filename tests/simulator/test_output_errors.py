"""Output errors of `loyalty simulate --out` (F20, F21): refused before the simulation when the
folder cannot be written, exit 1 with RL620 when writing fails part-way, and the previous report
set left whole by a failure or an interruption in the middle of writing (simulator.report.outputs).

A read-only file system is simulated by monkeypatching, since a test run as root writes through
any file mode."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from rulelang.tools.cli import main
from simulator.trials import montecarlo
from simulator.report import outputs

RUN = ["simulate", "rules/coffee.loyalty", "--customers", "200", "--months", "2", "--trials", "1", "--workers", "1"]
REPORTS = {"report.json", "report.md", "report.html", "report.xlsx",
           *(f"{t}.{ext}" for t in ("summary", "monthly", "per_trial", "contract_liability", "cohorts", "cohort_ages",
                                           "tier_economics") for ext in ("csv", "parquet"))}


def _contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def _no_simulation(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("the simulation ran before the output folder was checked")

    monkeypatch.setattr(montecarlo, "simulate", refuse)


def test_a_read_only_out_folder_is_refused_before_simulating(monkeypatch, capsys, tmp_path):
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    _no_simulation(monkeypatch)
    monkeypatch.setattr(outputs.tempfile, "mkstemp", read_only)
    out = tmp_path / "out"
    assert main(RUN + ["--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{out}: error[RL620]: cannot write into {out}: Read-only file system" in err
    assert "hint: give --out a folder you can write to" in err and "Traceback" not in err


def test_a_file_named_as_out_is_refused_before_simulating_and_left_alone(monkeypatch, capsys, tmp_path):
    _no_simulation(monkeypatch)
    afile = tmp_path / "afile"
    afile.write_text("x\n", encoding="utf-8")
    assert main(RUN + ["--out", str(afile)]) == 1
    err = capsys.readouterr().err
    assert f"{afile}: error[RL620]: cannot write reports into it: it is a file, not a folder" in err
    assert "hint: give --out a folder" in err
    assert afile.read_text(encoding="utf-8") == "x\n"


@pytest.fixture(scope="module")
def previous(tmp_path_factory) -> dict[str, bytes]:
    """The report set of a first run (seed 1), written by `loyalty simulate --out`."""
    out = tmp_path_factory.mktemp("previous") / "out"
    assert main(RUN + ["--seed", "1", "--out", str(out)]) == 0
    before = _contents(out)
    assert set(before) == REPORTS
    return before


def _previous_set(previous: dict[str, bytes], tmp_path: Path) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    for name, data in previous.items():
        (out / name).write_bytes(data)
    return out


def _failing_writer(monkeypatch, exc: BaseException, after: int) -> list[str]:
    """Make the writer write half of the file numbered `after` (0-based) and then raise `exc`."""
    real = outputs._write_text
    written: list[str] = []

    def writer(path: Path, text: str) -> None:
        if len(written) == after:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text[: len(text) // 2])
            raise exc
        written.append(path.name)
        real(path, text)

    monkeypatch.setattr(outputs, "_write_text", writer)
    return written


def test_a_full_disk_while_writing_is_exit_1_and_keeps_the_previous_set(monkeypatch, capsys, tmp_path, previous):
    out = _previous_set(previous, tmp_path)
    written = _failing_writer(monkeypatch, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), after=1)
    assert main(RUN + ["--seed", "2", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert written == ["report.json"]  # the second file failed half-way
    assert f"{out}: error[RL620]: cannot write the reports into {out}: No space left on device" in err
    assert "hint: free some space on that disk, or give another --out" in err and "Traceback" not in err
    assert _contents(out) == previous  # the previous run's three files, byte for byte, and nothing else


def test_an_interruption_while_writing_keeps_the_previous_set(monkeypatch, capsys, tmp_path, previous):
    out = _previous_set(previous, tmp_path)
    written = _failing_writer(monkeypatch, KeyboardInterrupt(), after=2)
    assert main(RUN + ["--seed", "2", "--out", str(out)]) == 130
    assert written == ["report.json", "report.md"]  # interrupted in the third file
    assert _contents(out) == previous


def test_without_a_failure_the_new_set_replaces_the_previous_one(tmp_path, previous):
    """The tests above would pass if nothing were ever written: a set written whole does replace
    the previous one, and a file of the user's own in the folder stays."""
    out = _previous_set(previous, tmp_path)
    (out / "notes.txt").write_text("mine\n", encoding="utf-8")
    new = {name: f"new {name}\n" for name in sorted(previous)}  # a whole set: every file a run writes
    assert outputs.write_set(out, new) == [out / name for name in new]
    assert _contents(out) == {**{k: v.encode() for k, v in new.items()}, "notes.txt": b"mine\n"}


@pytest.mark.parametrize("exc", [OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), KeyboardInterrupt()])
def test_a_failed_first_write_leaves_an_empty_folder(monkeypatch, tmp_path, exc):
    out = tmp_path / "out"
    _failing_writer(monkeypatch, exc, after=0)
    with pytest.raises(type(exc) if isinstance(exc, KeyboardInterrupt) else outputs.OutputError):
        outputs.write_set(out, {"report.json": "{}\n", "report.md": "# new\n"})
    assert list(out.iterdir()) == []  # no half file and no temporary folder
