"""The compiled engine kernel (numba): the program arm's purchases, customer by customer.

Takes: the engine's `Plan` and `ProgramArm` (simulator.engine). Gives: `PurchaseKernel`, which
applies a day's purchases to the program arm's state arrays in place, one customer after the
other, exactly as `ProgramArm.apply("purchase", ...)` does over the batch (docs/semantics.md §4.2),
and, for the same chunk (`PurchaseKernel.day_steps`), the day loop's steps around the purchases:
redemption on the visit (the goal reward or paying with points: the FIFO lot burn and the
issue-month cohorts), per-use tier perks, and the goal-gradient / post-reward purchase probability.
Modules, one stage each: `cache` (where numba keeps compiled code), `conditions` (rule conditions
as small opcode tables), `tables` (the plan as flat arrays), `purchase` (the @njit kernel),
`redeem` (redemption and per-use perks), `lift` (the purchase probability), `coverage` (which
constructs the kernel runs), `dispatch` (the engine's choice: kernel or numpy).

Random numbers: the kernel draws none. The day loop (simulator.engine.day_loop) draws every
uniform, basket and return exactly as before, from the same streams in the same order
(stream 0: the day's uniforms and the baseline buyers' baskets; 1: the program arm's extra
buyers' baskets; 2: referred newcomers; 3: quantity; 4: voucher use; 5: lines), and hands the
day's purchases (amount, shipping, category, channel, items) to the kernel. Every draw that
depends on the program's state (who buys in the program arm, which depends on the balance
through the goal gradient; voucher use) is still taken by the day loop after the kernel has
updated that state, so the kernel changes no draw, and results are identical to the numpy path
for any seed, worker count and block size. Redemption and per-use perks draw nothing either: they
read the day's basket uniforms the day loop drew (column 4: whether to redeem, column 3: perk use),
after the purchase step, as the numpy path does.
"""

from simulator.kernel.cache import setup

setup()  # before anything imports numba: its cache folder is read when numba is imported

from simulator.kernel.coverage import kernel_supports  # noqa: E402
from simulator.kernel.dispatch import engine_label, kernel_for

__all__ = ["engine_label", "kernel_for", "kernel_supports"]
