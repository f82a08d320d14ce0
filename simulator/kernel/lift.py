"""The program arm's daily purchase probability, compiled (numba): the goal gradient and the post-reward lift.

Takes: the day loop's `ChunkSim` (simulator.engine.day_loop) whose program arm runs on the kernel. Gives:
`LiftKernel`, whose `refresh(idx, day)` is `ChunkSim._refresh_q` and `end_post_windows(day)` is
`ChunkSim._end_post_windows`, customer by customer, with numpy 2's arithmetic to the last bit:
    lift = 0f + float32(goal_gradient) * float32(clip(available * (1.0 / goal), 0, 1))   [float64 inside]
    lift = lift + float32(post_reward_lift) * (post_until > day)                          [float32]
    q = min(q0 * (1f + weight * lift), 1f)                                                [float32]
(numpy 2 keeps a float32 array float32 beside a Python float: `1.0 + weight * lift` is a float32 sum,
so every step here is written with float32 operands; numba compiles without fast-math, so nothing
is fused or reordered). No random numbers are drawn.
"""

from __future__ import annotations

import weakref

import numpy as np

from simulator.kernel.cache import setup

setup()

from numba import njit  # noqa: E402


@njit(cache=True, error_model="numpy")
def refresh_batch(idx, day, gg_on, gg, inv_goal, pl_on, pl, pend_on, outstanding, pending, post_until,
                  q0, weight, q_prog, q_max, q_base):
    """`ChunkSim._refresh_q(idx, day)`. (One loop body, no helper taking arrays: a call per customer
    passing arrays costs their reference counts, more than the arithmetic.)"""
    for i in range(idx.size):
        c = idx[i]
        lift = np.float32(0.0)
        if gg_on:
            a = outstanding[c] - pending[c] if pend_on else outstanding[c]
            x = np.float64(a) * inv_goal
            x = min(max(x, 0.0), 1.0)  # np.clip(x, 0.0, 1.0)
            lift = lift + gg * np.float32(x)
        if pl_on:
            lift = lift + pl * (np.float32(1.0) if post_until[c] > day else np.float32(0.0))
        q = q0[c] * (np.float32(1.0) + weight[c] * lift)
        if q > np.float32(1.0):
            q = np.float32(1.0)
        q_prog[c] = q
        b = q_base[c]
        q_max[c] = q if q >= b else b


class LiftKernel:
    """`_refresh_q` and `_end_post_windows` of one chunk on the kernel."""

    def __init__(self, sim):
        self.sim = weakref.proxy(sim)  # sim owns this kernel: a strong reference back would be a cycle
        r, goal = sim.resp, sim.plan.goal_points
        self.gg_on = bool(r.goal_gradient and goal > 0)
        self.gg = np.float32(r.goal_gradient)
        self.inv_goal = 1.0 / goal if goal > 0 else 0.0
        self.pl_on = bool(r.post_reward_lift)
        self.pl = np.float32(r.post_reward_lift)

    def _args(self) -> tuple:
        sim = self.sim
        lots = sim.arm.lots
        return (self.gg_on, self.gg, self.inv_goal, self.pl_on, self.pl, lots.pend is not None, lots.outstanding,
                lots.pending, sim.post_until, sim.q0, sim.weight, sim.q_prog, sim.q_max, sim.q_base)

    def refresh(self, idx: np.ndarray, day: int) -> None:
        refresh_batch(np.ascontiguousarray(idx, dtype=np.int64), day, *self._args())

    def end_post_windows(self, day: int) -> None:
        """The customers whose post-reward window ends today are found by numpy (one vectorized
        comparison beats a compiled scan of the whole chunk), their probability refreshed here."""
        sim = self.sim
        ends = np.flatnonzero(sim.post_until == day)
        if ends.size:
            ends = ends[sim.alive_p[ends]]
            if ends.size:
                refresh_batch(ends, day, *self._args())


COMPILED = (refresh_batch,)

__all__ = ["COMPILED", "LiftKernel"]
