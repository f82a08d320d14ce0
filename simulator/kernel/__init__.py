"""The compiled engine kernel (numba): the day's purchase pass and the program arm's purchases.

Takes: the engine's `Plan` and `ProgramArm` (simulator.engine). Gives: `PurchaseKernel`, which
applies a day's purchases to the program arm's state arrays in place, one customer after the
other, exactly as `ProgramArm.apply("purchase", ...)` does over the batch (docs/semantics.md §4.2),
and, for the same chunks, the day's purchase pass (`day_pass.DayPass`, compiled in `day`): the daily
uniforms, the buyers of both arms, their baskets and returns, both arms' month metrics and churn;
the program arm's other events on the same kernel (`events.EventKernel`: signups, referrals of
one side per batch, birthdays, custom events with their `event.<field>` columns, rules on `return`,
each kind with its own tables), and the day loop's steps around the purchases (`PurchaseKernel.day_steps`): redemption on the visit
(the goal reward or paying with points: the FIFO lot burn and the issue-month cohorts), per-use tier
perks, the goal-gradient / post-reward purchase probability and the cohort book's month fold; and the
returns (`returns.ReturnKernel`, where the program has no rules on `return`): the schedule of returns
to come and the day's returns (both arms' metrics, refunded discounts, the reversal of the order's
points in the lots, the order book and the issue-month cohorts), balances beside the points and lowered
tier metrics calling back into the numpy code per round.
Modules, one stage each: `cache` (where numba keeps compiled code), `conditions` (rule conditions
as small opcode tables), `tables` (the plan as flat arrays), `purchase` (the @njit purchase kernel),
`events` (the other event kinds on the purchase kernel), `day` (the @njit day pass), `day_pass` (its buffers and per-block calls), `redeem` (redemption,
per-use perks, the month fold), `lift` (the purchase probability), `returns` (the return schedule and
the day's returns), `coverage` (which constructs the
kernel runs), `dispatch` (the engine's choice: kernel or numpy).

Random numbers: `purchase` (and `events` through it) draws none (it reads the purchases, their quantity and drawn lines with
their attributes, as the day loop or `day` hands them over). `day` draws, per block, from the same
numpy Generators and in the same order as the numpy day loop (simulator.engine.day_loop `_purchases_numpy` and
`_basket`), so the two give the same numbers bit for bit (numba's Generator methods and numpy's
vectorized ones consume a PCG64 stream identically): stream 0, one float32 uniform per customer of
the block, then for the baseline buyers (in customer order) spend (gamma), the action uniforms
(buyer by buyer, row-major) and items (Poisson, only when a segment has more than one item on
average); stream 1, the same three for the program arm's other buyers; stream 2 (side), one
uniform per spare slot, then the same three for the referred newcomers who buy; stream 3,
`quantity` of every buyer of the block, only when the program reads it. A batch that draws purchase
lines (stream 5) takes the numpy pass. `redeem` and `lift` draw none: redemption and per-use perks
read the day's basket uniforms (column 4: whether to redeem, column 3: perk use) after the purchase
step, as the numpy path does; `returns` draws none (which purchases come back is drawn by `day`). Every other draw that depends on the program's state (voucher use
from stream 4) is still taken by the day loop after the kernel updated that state, so results are
identical to the numpy path for any seed, worker count and block size.
"""

from simulator.kernel.cache import setup

setup()  # before anything imports numba: its cache folder is read when numba is imported

from simulator.kernel.coverage import kernel_supports  # noqa: E402
from simulator.kernel.dispatch import engine_label, kernel_for

__all__ = ["engine_label", "kernel_for", "kernel_supports"]
