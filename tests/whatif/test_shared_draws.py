"""The variants of a what-if run draw their customers once per trial: the traits a block's customers get
(`simulator.model.draws.draw_block`) depend on the population's draw inputs only (`draw_key`), so the
variants whose populations differ only in what the draw never reads share one draw per process. Counted,
never timed; and the results are the same as with a draw per variant."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from simulator.engine.day_loop import block_rng
from simulator.model import draws
from simulator.model.history_model import ParameterUncertainty
from simulator.model.population import Choice, CustomEventModel, LineModel, ReturnModel, default_population
from simulator.model.strings import StringTable
from simulator.trials import montecarlo as mc
from simulator.whatif.runner import Arm, Settings, fixed_population, load_population_spec, run_programs
from simulator.whatif.sensitivity import run_sensitivity
from whatif_helpers import FIXTURES


@pytest.fixture(scope="module")
def lively():
    return load_population_spec(str(FIXTURES / "lively.yaml"))


@pytest.fixture()
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The (trial, block) of every block drawn in this process (the real draws, not the reused ones)."""
    seen: list[tuple[int, int]] = []
    real = draws._draw_block

    def counting(pop, tables, seed, trial, block, *args, **kwargs):
        seen.append((trial, block))
        return real(pop, tables, seed, trial, block, *args, **kwargs)

    monkeypatch.setattr(draws, "_draw_block", counting)
    return seen


def _no_sharing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mc, "share_draws", lambda on=True: None)


def _plain(res) -> dict:
    doc = res.to_json()
    doc.pop("meta", None)
    return doc


ONLY = ["response.goal_gradient", "segments.redeem", "segments.purchase_rate"]


def test_sensitivity_draws_each_trial_once_for_the_variants_with_the_same_customers(birthday, lively, drawn,
                                                                                     monkeypatch):
    # 300 customers: one block. Variants: the base, goal gradient low/high, redeem low/high (none of them
    # read by the draw: the same customers), purchase rate low/high (other customers each): 7 simulated
    # variants, 3 distinct draws a trial -> 2 trials x 3 = 6 draws instead of 7 x 2 = 14
    settings = Settings(customers=300, months=2, trials=2, seed=4, workers=1)
    shared = run_sensitivity(birthday, lively, settings, only=ONLY)
    assert len(drawn) == 6
    assert sorted(drawn) == [(0, 0)] * 3 + [(1, 0)] * 3
    assert draws._shared is None  # this process keeps nothing after the run
    drawn.clear()
    _no_sharing(monkeypatch)
    alone = run_sensitivity(birthday, lively, settings, only=ONLY)
    assert len(drawn) == 14
    assert _plain(shared) == _plain(alone)


def test_compare_draws_once_per_trial_and_block_for_every_program(birthday, birthday_v2, gift, calm, drawn,
                                                                  monkeypatch):
    # 3 programs on one population: 250 customers in blocks of 100 -> 3 blocks; 2 trials -> 6 draws (not 18)
    settings = Settings(customers=250, months=2, trials=2, seed=9, workers=1, block_size=100)
    arms = [Arm(p.label, p.program) for p in (birthday, birthday_v2, gift)]
    shared = run_programs(arms, calm, settings)
    assert sorted(drawn) == sorted((t, b) for t in range(2) for b in range(3))
    drawn.clear()
    _no_sharing(monkeypatch)
    alone = run_programs(arms, calm, settings)
    assert len(drawn) == 18
    for s, a in zip(shared, alone):
        assert s.trial_totals.keys() == a.trial_totals.keys()
        for k in s.trial_totals:
            assert np.array_equal(s.trial_totals[k], a.trial_totals[k], equal_nan=True), k
        for k in s.trial_monthly:
            assert np.array_equal(s.trial_monthly[k], a.trial_monthly[k], equal_nan=True), k


def test_shared_draws_on_two_workers_give_the_numbers_of_one_process(birthday, lively):
    settings = Settings(customers=300, months=2, trials=3, seed=4, workers=1)
    one = run_sensitivity(birthday, lively, settings, only=ONLY)
    two = run_sensitivity(birthday, lively, dataclasses.replace(settings, workers=2), only=ONLY)
    assert _plain(one) == _plain(two)


# ---------------------------------------------------------------- what the draw reads


def _rich_population():
    """The built-in population with custom events (with a field) and an attribute, so that every part
    of the draw runs: segments, purchase rates, dropout, spend, birthdays, enrollment, satisfaction,
    attributes, referrals and spare slots, custom events and their fields."""
    pop = default_population()
    seg = pop.segments[0]
    seg = dataclasses.replace(seg, refer_per_day=0.05,
                              events=(("visit", CustomEventModel(0.1, (("room", Choice(("a", "b"), (0.4, 0.6))),))),),
                              attributes=(("region", Choice(("north", "south"), (0.5, 0.5))),))
    return dataclasses.replace(pop, segments=(seg, *pop.segments[1:]))


CHANGED_RESPONSE = {"goal_gradient": 0.7, "post_reward_lift": 0.3, "post_reward_days": 3, "heavy_buyer_damping": 0.1,
                    "tier_dropout_reduction": 0.9, "downgrade_dropout_increase": 0.9, "perk_use_rate": 0.9,
                    "satisfaction": True, "satisfaction_redeem_boost": 0.9, "satisfaction_tier_boost": 0.9}
CHANGED_SEGMENT = {"categories": Choice(("x", "y"), (0.3, 0.7)), "channels": Choice(("web",), (1.0,)),
                   "items_mean": 3.0, "quantity_mean": 2.0,
                   "lines": LineModel(2.0, ("x",), (1.0,), (1.0,), (1.0,)), "shipping_cents": (("web", 500),),
                   "redeem": 0.9, "voucher_use": 0.9, "returns": ReturnModel(rate=0.2),
                   "uncertainty": ParameterUncertainty(("r",), (0.0,), ((0.01,),))}


def _draw(pop, block: int = 0):
    side = block_rng(3, 1, block, stream=2)
    traits = draws._draw_block(pop, draws.segment_tables(pop, StringTable()), 3, 1, block, 500, 60, side, None)
    return traits, side.bit_generator.state


def _same_traits(a, b) -> bool:
    for k, v in vars(a).items():
        w = getattr(b, k)
        if isinstance(v, dict):
            if v.keys() != w.keys() or not all(np.array_equal(v[n], w[n]) for n in v):
                return False
        elif isinstance(v, np.ndarray):
            if not np.array_equal(v, w):
                return False
        elif v != w:
            return False
    return True


def test_every_field_the_draw_key_leaves_out_leaves_the_draw_unchanged():
    assert set(CHANGED_RESPONSE) == set(draws.NOT_DRAWN_RESPONSE)  # a field added there needs a case here
    assert set(CHANGED_SEGMENT) == set(draws.NOT_DRAWN_SEGMENT)
    pop = _rich_population()
    tables = draws.segment_tables(pop, StringTable())
    base, after = _draw(pop)
    assert base.ev_day.size > 0 and base.ref_day.size > 0 and base.n > base.n_customers  # every part drawn
    key = draws.draw_key(pop, tables, 3, 1, 0, 500, 60, None)
    for name, value in CHANGED_RESPONSE.items():
        changed = dataclasses.replace(pop, response=dataclasses.replace(pop.response, **{name: value}))
        traits, state = _draw(changed)
        assert _same_traits(base, traits) and state == after, name
        assert draws.draw_key(changed, tables, 3, 1, 0, 500, 60, None) == key, name
    for name, value in CHANGED_SEGMENT.items():
        changed = dataclasses.replace(pop, segments=tuple(dataclasses.replace(s, **{name: value}) for s in pop.segments))
        traits, state = _draw(changed)
        assert _same_traits(base, traits) and state == after, name
        assert draws.draw_key(changed, tables, 3, 1, 0, 500, 60, None) == key, name
    changed = dataclasses.replace(pop, economics=dataclasses.replace(pop.economics, gross_margin=0.9))
    assert draws.draw_key(changed, tables, 3, 1, 0, 500, 60, None) == key


def test_what_the_draw_reads_is_in_its_key():
    pop = _rich_population()
    tables = draws.segment_tables(pop, StringTable())
    key = draws.draw_key(pop, tables, 3, 1, 0, 500, 60, None)
    seg = pop.segments[0]
    for changed in (dataclasses.replace(pop, segments=(dataclasses.replace(seg, alpha_days=seg.alpha_days * 2),
                                                       *pop.segments[1:])),
                    dataclasses.replace(pop, response=dataclasses.replace(pop.response, referral_conversion=0.5)),
                    dataclasses.replace(pop, referral_pool=0.02)):  # 10 spare slots, not the 32 drawn
        assert draws.draw_key(changed, tables, 3, 1, 0, 500, 60, None) != key
        assert not _same_traits(_draw(pop)[0], _draw(changed)[0])
    for args in ((4, 1, 0, 500, 60), (3, 2, 0, 500, 60), (3, 1, 1, 500, 60), (3, 1, 0, 400, 60), (3, 1, 0, 500, 61)):
        assert draws.draw_key(pop, tables, *args, None) != key


def test_a_reused_draw_is_a_copy_and_leaves_the_side_stream_where_the_draw_does():
    pop = fixed_population(_rich_population()).base
    tables = draws.segment_tables(pop, StringTable())
    first_rng, again_rng, fresh_rng = (block_rng(3, 1, 0, stream=2) for _ in range(3))
    cache = draws.share_draws(True)
    try:
        first = draws.draw_block(pop, tables, 3, 1, 0, 500, 60, first_rng)
        first.q0[:] = 0.0  # the day loop may change its arrays: the kept draw stays as drawn
        again = draws.draw_block(pop, tables, 3, 1, 0, 500, 60, again_rng)
        assert (cache.draws, cache.reused) == (1, 1)
    finally:
        draws.share_draws(False)
    fresh = draws.draw_block(pop, tables, 3, 1, 0, 500, 60, fresh_rng)
    assert _same_traits(again, fresh)
    assert again_rng.bit_generator.state == fresh_rng.bit_generator.state == first_rng.bit_generator.state
    assert again_rng.random() == fresh_rng.random()


def test_a_full_store_drops_a_draw_never_reused_before_the_shared_one():
    pop = fixed_population(_rich_population()).base
    tables = draws.segment_tables(pop, StringTable())
    size = draws._nbytes(draws._draw_block(pop, tables, 3, 0, 0, 500, 60, block_rng(3, 0, 0, stream=2)))
    store = draws.SharedDraws(max_bytes=2 * size + size // 2)  # room for two draws of this size
    cache = draws._shared
    draws._shared = store
    try:
        def draw(trial: int) -> None:
            draws.draw_block(pop, tables, 3, trial, 0, 500, 60, block_rng(3, trial, 0, stream=2))

        draw(0)
        draw(0)  # reused: kept
        draw(1)  # full with two; the next one drops a draw never reused: trial 1's, though trial 0's is older
        draw(2)
        draw(0)
        assert (store.draws, store.reused) == (3, 2)
        draw(1)  # dropped: drawn again
        assert (store.draws, store.reused) == (4, 2)
    finally:
        draws._shared = cache
