"""Which programs of the differential test the engine kernel runs (tests/simulator/test_kernel.py
checks this list against `simulator.kernel.kernel_supports`, so coverage cannot shrink unnoticed)."""

# every construct the kernel lacks, per program it does not run (the others run on the kernel)
NUMPY_ONLY = {
    "rules/grocery.loyalty": ["QuantityAward (rule `fuel`)", "`any line` condition (rule `coffee_club`)"],
    "tests/simulator/fixtures/fuel.loyalty": [
        "counter `litres` on purchases", "tier metric `litres` (a counter or a balance)", "QuantityAward (rule `fuel`)",
        "QuantityAward (rule `shop`)", "QuantityAward (rule `launch`)"],
    "tests/simulator/fixtures/returns_spend.loyalty": ["counter `visits` on purchases", "counter `things` on purchases"],
    "tests/simulator/fixtures/returns_counter.loyalty": ["counter `visits` on purchases",
                                                         "tier metric `visits` (a counter or a balance)"],
    "tests/simulator/fixtures/status.loyalty": ["tier status dates (`status through`)",
                                                "`activity` for an inactivity expiry"],
    "tests/simulator/fixtures/status_step.loyalty": ["tier status dates (`status through`)",
                                                     "`activity` for an inactivity expiry"],
    "tests/simulator/fixtures/constructs.loyalty": [
        "counter `visits` on purchases", "counter `bulk` on purchases", "tier metric `visits` (a counter or a balance)",
        "condition field `customer.vip` (rule `vip_boost`)", "condition field `customer.city` (rule `lyon_coffee`)"],
    "rules/airline_status.loyalty": [
        "`balances` (program)", "tier metric `qualifying_dollars` (a counter or a balance)",
        "`balance` (rule `fare_qualifying`)", "`balance` (rule `partner_qualifying`)"],
    "tests/simulator/fixtures/balances.loyalty": [
        "`balances` (program)", "tier metric `status_points` (a counter or a balance)",
        "`balance` (rule `litres_status`)", "QuantityAward (rule `litres_status`)", "`balance` (rule `status`)",
        "`balance` (rule `store_visit`)", "`balance` (rule `nights`)", "`balance` (rule `tenth_visit`)"],
    "tests/simulator/fixtures/money_counter.loyalty": [
        "counter `coffee_spend` on purchases", "tier metric `coffee_spend` (a counter or a balance)"],
}
