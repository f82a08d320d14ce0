"""Compare and plan charts: one number unit per axis, and a lower cost drawn as good."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from simulator.whatif.report import BAD_COLOR, GOOD_COLOR, _compact_axis, change_color, lower_is_better


def tick_labels(lo: float, hi: float) -> list[str]:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.set_xlim(lo, hi)
    _compact_axis(ax.xaxis)
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    plt.close(fig)
    return labels


def test_one_unit_per_axis():
    # ticks 0, 2.5k, 5k, 7.5k, 10k, 12.5k: the old formatter wrote `5000` beside `10k`
    labels = tick_labels(0, 12_000)
    assert labels and all(x == "0" or x.endswith("k") for x in labels), labels
    small = tick_labels(0, 800)  # below 10,000 no suffix at all
    assert all(x[-1].isdigit() for x in small), small


def test_a_decrease_in_cost_is_good():
    assert lower_is_better("program.program_cost") and lower_is_better("program.cost_perks")
    assert lower_is_better("program.liability") and not lower_is_better("incremental.profit")
    assert change_color("program.program_cost", -120.0) == GOOD_COLOR
    assert change_color("program.program_cost", 50.0) == BAD_COLOR
    assert change_color("incremental.profit", 50.0) == GOOD_COLOR
    assert change_color("incremental.profit", -1.0) == BAD_COLOR


def test_compare_and_plan_say_the_scale():
    from simulator.whatif.compare import scale_note

    note = scale_note({"customers": 12345})
    assert "12,345 customers" in note and "--customers N" in note and "fixed costs" in note
