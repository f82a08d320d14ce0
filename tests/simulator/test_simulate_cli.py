"""`loyalty simulate` through the simulator's own `register` (the CLI plugs it in the same way)."""

from __future__ import annotations

import argparse
import json

from simulator.simulate_command import register


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="loyalty")
    register(parser.add_subparsers())
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        return int(stop.code)
    return args.handler(args)


def test_simulate_prints_a_summary_and_writes_report_json(tmp_path, capsys):
    code = run(["simulate", "rules/coffee.loyalty", "--population", "rules/populations/coffee.yaml",
                "--customers", "400", "--months", "2", "--trials", "2", "--workers", "1", "--out", str(tmp_path)])
    out = capsys.readouterr()
    assert code == 0
    assert "Bean Club" in out.out and "incremental" not in out.err
    assert "ledger identity" in out.out and "holds" in out.out
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["meta"]["customers"] == 400 and doc["meta"]["trials"] == 2
    assert doc["tier_names"] == ["Green", "Gold", "Reserve"]


def test_json_format(capsys):
    assert run(["simulate", "rules/coffee.loyalty", "--customers", "200", "--months", "1", "--trials", "1",
                "--workers", "1", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "loyalty-simulation/1"


def test_a_bad_population_file_is_reported_with_its_location(tmp_path, capsys):
    bad = tmp_path / "pop.yaml"
    bad.write_text("segments:\n  - name: a\n    share: 1\n    purchase: {r: 1, alpha: 2}\n    refer: often\n")
    assert run(["simulate", "rules/coffee.loyalty", "--population", str(bad), "--customers", "10"]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:5:12: error[RL603]" in err


def test_usage_errors_exit_2(capsys):
    assert run(["simulate", "rules/coffee.loyalty", "--block-size", "1000"]) == 2
    assert run(["simulate", "rules/coffee.loyalty", "--customers", "0"]) == 2


def test_a_broken_program_exits_1(tmp_path, capsys):
    bad = tmp_path / "bad.loyalty"
    bad.write_text('program "x" {\n  points "p"\n  currency USD\n  earn a on purchase { award 1 pointz }\n}\n')
    assert run(["simulate", str(bad), "--customers", "10"]) == 1
    assert "error[" in capsys.readouterr().err


def test_simulate_checks_guardrails_and_exits_1_when_one_fails(tmp_path, capsys):
    # Revenue is positive in every trial, so `revenue > 0` must hold and `revenue < 0` must fail.
    rails = tmp_path / "rails.yaml"
    rails.write_text("guardrails:\n  - name: sells something\n    rule: revenue > 0\n")
    argv = ["simulate", "rules/coffee.loyalty", "--customers", "300", "--months", "1", "--trials", "2",
            "--workers", "1", "--guardrails", str(rails)]
    assert run(argv) == 0
    assert "guardrail ok" in capsys.readouterr().err
    rails.write_text("guardrails:\n  - name: impossible\n    rule: revenue < 0\n")
    assert run(argv) == 1
    err = capsys.readouterr().err
    assert "guardrail FAIL" in err and "impossible" in err


def test_simulate_reports_a_bad_guardrails_file_at_its_line(tmp_path, capsys):
    rails = tmp_path / "rails.yaml"
    rails.write_text("guardrails:\n  - rule: revenu > 0\n")
    code = run(["simulate", "rules/coffee.loyalty", "--customers", "300", "--months", "1", "--trials", "1",
                "--guardrails", str(rails)])
    err = capsys.readouterr().err
    assert code == 1
    assert f"{rails}:2:" in err and "RL724" in err and "Traceback" not in err


def test_a_run_too_large_for_memory_is_a_clear_error(capsys, monkeypatch):
    import simulator.trials.montecarlo as mc

    monkeypatch.setattr(mc, "available_memory", lambda: 10 << 20)  # 10 MiB free
    assert run(["simulate", "rules/coffee.loyalty", "--customers", "300000", "--months", "1", "--trials", "1",
                "--workers", "2"]) == 1
    err = capsys.readouterr().err  # after the line naming the population found beside the program
    assert err.startswith("population: rules/data/coffee/population.yaml")
    assert "\nerror[RL612]: this run needs about" in err and "hint: use fewer --workers" in err
    assert "Traceback" not in err


def test_distributions_in_the_population_are_drawn_per_trial(tmp_path, capsys):
    # gross margin drawn per trial from uniform(0.2, 0.4): each trial's gross profit / revenue is
    # its own draw, so the four trials differ and every one lies in [0.2, 0.4]
    pop = tmp_path / "pop.yaml"
    pop.write_text("segments:\n  - name: all\n    share: 1\n    purchase: {r: 2, alpha: 4}\n"
                   "economics:\n  gross_margin: {uniform: [0.2, 0.4]}\n")
    code = run(["simulate", "rules/coffee.loyalty", "--population", str(pop), "--customers", "300", "--months", "1",
                "--trials", "4", "--workers", "1", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0 and "drawn per trial: economics.gross_margin ~ uniform(0.2, 0.4)" in out
    doc = json.loads((tmp_path / "report.json").read_text())
    per = doc["per_trial"]
    margins = [g / r for g, r in zip(per["baseline.gross_profit"], per["baseline.revenue"])]
    assert len(set(round(m, 9) for m in margins)) == 4 and all(0.2 <= m <= 0.4 for m in margins)
