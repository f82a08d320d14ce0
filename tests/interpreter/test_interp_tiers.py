"""Tiers (docs/semantics.md §5): upgrades, reviews, windows, tier multipliers, discounts and perks."""

from __future__ import annotations

from fractions import Fraction as F

from ir_builders import D, Customer, event, per_usd, points_of, program, purchase, rule, run
from rulelang import ir


def _tier(name: str, usd: int, multiplier: str | None = None, discount: str | None = None,
          perks: tuple[ir.TierPerk, ...] = (), expiry: tuple[ir.Expiry, ...] | None = None) -> ir.Tier:
    return ir.Tier(name=name, threshold=F(usd * 100), multiplier=F(multiplier) if multiplier else None, discount_percent=F(discount) if discount else None,
                   expiry=expiry, perks=perks)


def _program(*tiers: ir.Tier, window: str = "calendar_year", months: int | None = None, review: str = "never",
             downgrade: str = "never", grace: int = 0, valid: int = 0, **kw: object) -> ir.Program:
    system = ir.TierSystem(metric="spend", window=window, window_months=months, tiers=tiers, review=review, downgrade=downgrade, grace_months=grace, validity_months=valid)  # type: ignore[arg-type]
    return program(rule("base", per_usd(1)), tiers=system, **kw)


GREEN, SILVER, GOLD = _tier("Green", 0), _tier("Silver", 100), _tier("Gold", 500, "1.2")


def test_upgrade_at_once_when_the_metric_reaches_the_threshold() -> None:
    p = _program(GREEN, GOLD)
    # 300 + 250 = 550 USD >= 500: Gold right after the second purchase (which still earned as Green).
    # Third purchase: 10 + floor(10 x 0.2) = 12. Total 300 + 250 + 12 = 562
    result = run(p, [purchase("2027-03-01", "300"), purchase("2027-03-02", "250"), purchase("2027-03-03", "10")])
    assert result.earned == 562
    assert result.tier == "Gold"
    assert [(h.date, h.from_tier, h.to_tier) for h in result.tier_history] == [(D("2027-03-02"), "Green", "Gold")]


def test_starting_tier_follows_the_given_metric() -> None:
    p = _program(GREEN, SILVER, GOLD)
    assert run(p, [purchase("2027-03-01", "1")], Customer(metric=20000)).tier == "Silver"  # 200 USD


def _downgrade_case(downgrade: str, until: str, grace: int = 0, metric_cents: int = 0) -> ir.Program:
    return run(_program(GREEN, SILVER, GOLD, review="monthly", downgrade=downgrade, grace=grace),
               [purchase("2027-03-15", "50")], Customer(tier="Gold", metric=metric_cents), until=D(until))


def test_review_downgrades_one_step_a_month() -> None:
    # March spend 50 USD -> qualifies for Green. 04-01: Gold -> Silver; 05-01: Silver -> Green
    result = _downgrade_case("one_step", "2027-05-01")
    assert [(h.date, h.to_tier) for h in result.tier_history] == [(D("2027-04-01"), "Silver"), (D("2027-05-01"), "Green")]
    assert _downgrade_case("one_step", "2027-04-30").tier == "Silver"


def test_review_downgrades_to_base_or_to_qualified() -> None:
    assert _downgrade_case("to_base", "2027-04-01", metric_cents=10000).tier == "Green"
    # given 100 USD + 50 USD spent = 150 USD -> qualifies for Silver
    assert _downgrade_case("to_qualified", "2027-04-01", metric_cents=10000).tier == "Silver"
    assert _downgrade_case("never", "2027-12-31").tier == "Gold"


def test_grace_delays_the_downgrade() -> None:
    # grace 2 months: 04-01 starts grace; 05-01 still in grace; 06-01 (>= 04-01 + 2 months) -> Silver.
    # 07-01 fails again: a new grace starts; 09-01 -> Green
    assert _downgrade_case("one_step", "2027-05-31", grace=2).tier == "Gold"
    assert _downgrade_case("one_step", "2027-06-01", grace=2).tier == "Silver"
    assert _downgrade_case("one_step", "2027-08-31", grace=2).tier == "Silver"
    assert _downgrade_case("one_step", "2027-09-01", grace=2).tier == "Green"


def test_a_passing_review_ends_the_grace() -> None:
    p = _program(GREEN, GOLD, review="monthly", downgrade="one_step", grace=2)
    # 04-01 fails (50 USD), grace starts; 04-10 brings the year to 550 USD; 05-01 passes; 06-01 passes
    result = run(p, [purchase("2027-03-15", "50"), purchase("2027-04-10", "500")], Customer(tier="Gold"),
                 until=D("2027-12-31"))
    assert result.tier == "Gold"
    assert result.tier_history == ()


def test_validity_protects_a_new_status() -> None:
    # Gold reached 2027-03-15 (600 USD), rolling 1 month, valid 12 months.
    # Reviews from 05-01 fail, but Gold holds until 2028-03-15; the 2028-04-01 review downgrades.
    p = _program(GREEN, GOLD, window="rolling", months=1, review="monthly", downgrade="one_step", valid=12)
    events = [purchase("2027-03-15", "600")]
    assert run(p, events, until=D("2028-03-31")).tier == "Gold"
    assert run(p, events, until=D("2028-04-01")).tier == "Green"


def test_calendar_year_window_resets() -> None:
    p = _program(GREEN, GOLD, review="yearly", downgrade="to_base")
    # 400 USD in Dec 2027 and 200 USD in Jan 2028: each year alone is below 500 -> never Gold
    assert run(p, [purchase("2027-12-20", "400"), purchase("2028-01-05", "200")]).tier == "Green"
    # Gold in Dec 2027 (600 USD): the 2028-01-01 review sees 600 for 2027 -> keeps Gold;
    # the 2029-01-01 review sees 0 for 2028 -> back to Green
    result = run(p, [purchase("2027-12-20", "600")], until=D("2029-01-01"))
    assert [(h.date, h.to_tier) for h in result.tier_history] == [(D("2027-12-20"), "Gold"), (D("2029-01-01"), "Green")]


def test_rolling_window_counts_the_last_n_months() -> None:
    p = _program(GREEN, GOLD, window="rolling", months=3)
    # April's window = Feb + Mar + Apr = 200 + 0 + 200 = 400 (January's 200 has left it)
    assert run(p, [purchase("2027-01-10", "200"), purchase("2027-02-10", "200"), purchase("2027-04-05", "200")]).tier == "Green"
    # March's window = Jan + Feb + Mar = 600
    assert run(p, [purchase("2027-01-10", "200"), purchase("2027-02-10", "200"), purchase("2027-03-05", "200")]).tier == "Gold"


def test_spend_metric_is_net_of_discounts_and_shipping() -> None:
    # Silver at 100 USD, 3% tier discount for Silver. 104 USD with 4 USD shipping: goods 100 -> Silver.
    silver = _tier("Silver", 100, discount="3")
    p = _program(GREEN, silver)
    result = run(p, [purchase("2027-01-01", "104", shipping="4")])
    assert result.tier == "Silver"
    # Second purchase as Silver: 40 USD incl. 5 shipping; discount 3% of 35.00 = 1.05; net 33.95 -> 33 points
    result = run(p, [purchase("2027-01-01", "104", shipping="4"), purchase("2027-01-02", "40", shipping="5")])
    assert result.discount_cents == 105
    assert points_of(result, 1, "base") == 33


def test_points_metric_and_purchases_metric() -> None:
    points_tiers = ir.TierSystem(metric="points", window="lifetime", window_months=None, tiers=(
        ir.Tier(name="Green", threshold=F(0), multiplier=None, discount_percent=None, expiry=None, perks=()), ir.Tier(name="Gold", threshold=F(100), multiplier=None, discount_percent=None, expiry=None, perks=())),
        review="never", downgrade="never", grace_months=0, validity_months=0)
    p = program(rule("base", per_usd(1)), tiers=points_tiers)
    assert run(p, [purchase("2027-01-01", "99.99")]).tier == "Green"  # 99 points
    assert run(p, [purchase("2027-01-01", "99.99"), purchase("2027-01-02", "1")]).tier == "Gold"  # 99 + 1
    count_tiers = ir.TierSystem(metric="purchases", window="lifetime", window_months=None, tiers=(
        ir.Tier(name="Green", threshold=F(0), multiplier=None, discount_percent=None, expiry=None, perks=()), ir.Tier(name="Regular", threshold=F(3), multiplier=None, discount_percent=None, expiry=None, perks=())),
        review="never", downgrade="never", grace_months=0, validity_months=0)
    p = program(rule("base", per_usd(1)), tiers=count_tiers)
    assert run(p, [purchase(f"2027-01-0{d}", "1") for d in (1, 2)]).tier == "Green"
    assert run(p, [purchase(f"2027-01-0{d}", "1") for d in (1, 2, 3)]).tier == "Regular"


def test_counter_as_tier_metric() -> None:
    nights = ir.Counter(name="nights", event="purchase", sums="items", condition=ir.Cmp(op="==", left=ir.Field(name="category", type="string"),
                                                              right=ir.Const(value="room", type="string")))
    system = ir.TierSystem(metric="nights", window="lifetime", window_months=None, tiers=(
        ir.Tier(name="Member", threshold=F(0), multiplier=None, discount_percent=None, expiry=None, perks=()), ir.Tier(name="Elite", threshold=F(10), multiplier=None, discount_percent=None, expiry=None, perks=())),
        review="never", downgrade="never", grace_months=0, validity_months=0)
    p = program(rule("base", per_usd(1)), counters=(nights,), tiers=system)
    # 4 + 5 room nights = 9 (the spa items do not count), then 1 more night -> 10 -> Elite
    events = [purchase("2027-01-01", "400", category="room", items=4), purchase("2027-01-02", "50", category="spa", items=3),
              purchase("2027-01-05", "500", category="room", items=5)]
    assert run(p, events).tier == "Member"
    assert run(p, events + [purchase("2027-01-09", "100", category="room", items=1)]).tier == "Elite"
    assert run(p, events, Customer(counters={"nights": 1}, metric=1)).tier == "Elite"


def test_tier_perks_per_use_and_per_month() -> None:
    reserve = _tier("Reserve", 2500, perks=(ir.TierPerk(name="free_refill", cost_cents=30, per="use"), ir.TierPerk(name="lounge", cost_cents=500, per="month")))
    p = _program(GREEN, reserve)
    events = [event("use_perk", "2027-05-04", name="free_refill"), event("use_perk", "2027-05-10", name="free_refill"),
              event("use_perk", "2027-05-11", name="lounge")]
    # 2 uses x 0.30 = 0.60; lounge 5.00 on 06-01 and 07-01 = 10.00 (not on 05-04, not the first of a month);
    # using the lounge costs nothing more
    result = run(p, events, Customer(tier="Reserve"), until=D("2027-07-15"))
    assert result.perk_cents == 60 + 1000
    assert result.cost_cents == 1060
    # a Green customer cannot use a Reserve perk
    green = run(p, [event("use_perk", "2027-05-04", name="free_refill")])
    assert green.perk_cents == 0
    assert green.trace[-1].notes == ("refused: free_refill is a perk of Reserve; the customer is Green",)


def test_monthly_perk_is_charged_on_the_first_day_when_the_run_starts_there() -> None:
    reserve = _tier("Reserve", 2500, perks=(ir.TierPerk(name="lounge", cost_cents=500, per="month"), ir.TierPerk(name="gift", cost_cents=2000, per="year")))
    p = _program(GREEN, reserve)
    # 2027-01-01: lounge 5.00 + gift 20.00; 02-01 and 03-01: lounge 5.00 each -> 35.00
    result = run(p, [purchase("2027-01-01", "1")], Customer(tier="Reserve"), until=D("2027-03-20"))
    assert result.perk_cents == 3500


def test_tier_expiry_replaces_the_program_expiry() -> None:
    gold = _tier("Gold", 500, expiry=(ir.Expiry(kind="never"),))
    p = _program(GREEN, gold, expiry=(ir.Expiry(kind="after_earning", months=6),))
    # a Gold customer's points never expire; a Green customer's expire after 6 months
    assert run(p, [purchase("2027-01-10", "10")], Customer(tier="Gold"), until=D("2028-12-31")).expired == 0
    assert run(p, [purchase("2027-01-10", "10")], until=D("2027-07-10")).expired == 10


def test_given_tier_is_not_downgraded_on_the_first_day() -> None:
    # the run starts on a review day; the given status began that day, so it stands
    p = _program(GREEN, GOLD, review="monthly", downgrade="to_base")
    result = run(p, [purchase("2027-06-01", "10")], Customer(tier="Gold"))
    assert result.tier == "Gold"
    assert result.earned == 12  # 10 + floor(10 x 0.2)
