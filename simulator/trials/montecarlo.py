"""Monte Carlo runner: trials × chunks of RNG blocks, in parallel, reproducibly.

Takes: a compiled `ir.Program` (or None for "no program"), a `Population` and run
settings. Gives: `RunResult` (see `simulator.trials.result`). Each task is (trial, chunk)
where a chunk is a run of whole 2^16-customer RNG blocks; block streams are keyed
by (seed, trial, block), and every metric a chunk returns is an int64 sum over its
customers (or a maximum), so the totals are bit-identical for any number of workers and
any chunk size; the costs the population's economics set (fixed costs, acquisition) are
computed once, from the merged counts (`merge_chunks`). Programs
with a global budget couple customers, so each trial then runs as one chunk.
"""

from __future__ import annotations

import dataclasses

import datetime as dt
import hashlib
import os
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from rulelang import ir, limits

from simulator.engine.calendar import Calendar, add_months
from simulator.model.strings import StringTable
from simulator.machine import available_memory
from simulator.model.customers_file import check_tiers, for_task
from simulator.model.draws import segment_tables, share_draws
from simulator.engine.day_loop import BLOCK, ChunkResult, ChunkSim, blocks_for
from simulator.engine.exact import ExactRangeError, checked_add, fits_int64, mul
from simulator.kernel import engine_label, kernel_for
from simulator.kernel.dispatch import reasons as kernel_reasons
from simulator.engine.program_plan import Plan, SimulationError, build_plan
from simulator.engine.line_attributes import check_population_attributes
from simulator.model.population import Population, default_population
from simulator.trials import backends
from simulator.trials.result import RunResult, build_result

ENGINE_VERSION = "2"  # bump when the random streams change: the same seed then gives other numbers


@dataclass(frozen=True)
class RunSettings:
    """How much to simulate and how: `simulate()`'s settings, and the what-if commands'."""

    customers: int = 10_000
    months: int = 12
    trials: int = 10
    seed: int = 0
    workers: int | None = None  # None: all cores
    chunk_size: int | None = None  # customers per task, a multiple of the block; None: `auto_chunk_blocks`
    start: dt.date | None = None
    # customers per RNG block: BLOCK in every run of the command line; the random streams are keyed
    # by block, so another block size gives other (equally valid) numbers. Tests use a small one to
    # run many blocks quickly.
    block_size: int = BLOCK
    # where the tasks run: None, this machine's process pool (`workers` processes); `local`, a Dask
    # LocalCluster of `workers` processes; `tcp://HOST:PORT`, a running Dask scheduler. Results
    # never depend on it.
    scheduler: str | None = None


# (program, population, settings, trial, blocks, customers to record): one unit of work
Task = tuple[ir.Program, Population, RunSettings, int, list[tuple[int, int]], int]


def empty_program(name: str = "no program") -> ir.Program:
    """A program with no rules: the simulation of it equals the baseline."""
    return ir.Program(name=name, points_unit="points", currency="USD", point_cost_cents=0,
                      point_value_cents=None, stacking="multiply", rounding="down", pending_days=0,
                      events=(), attributes=(), counters=(), rules=(), tiers=None, expiry=(),
                      returns=ir.ReturnPolicy(reverse=False, negative_balance=False), rewards=(), pay_with_points=None, conversion=None)


def program_hash(program: ir.Program, source: str | None = None) -> str:
    """rulelang.check.compiler.program_hash when available, else sha256 of the source (or of the IR's repr)."""
    try:
        from rulelang import program_hash as ph  # type: ignore[attr-defined]
        return str(ph(program))
    except Exception:  # the compiler may not provide it
        text = source if source is not None else repr(program)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def package_version() -> str:
    try:
        from importlib.metadata import version
        return version("loyalty-rules")
    except Exception:
        return "0.1.0"


def check_settings(settings: RunSettings, pop: Population | None = None) -> None:
    """Refuse settings outside `rulelang.limits` (RL611): the command line bounds its options
    the same way (a usage error there); this guards callers of the Python API."""
    bounds = [("customers", settings.customers, limits.MAX_CUSTOMERS), ("months", settings.months, limits.MAX_MONTHS),
              ("trials", settings.trials, limits.MAX_TRIALS)]
    for what, value, top in bounds:
        if not 1 <= value <= top:
            raise SimulationError.of(f"{what} must be from 1 to {top:,}, got {value:,}", code="RL611")
    if settings.workers is not None and not 1 <= settings.workers <= limits.MAX_WORKERS:
        raise SimulationError.of(f"workers must be from 1 to {limits.MAX_WORKERS}, got {settings.workers}", code="RL611")
    start = settings.start or (pop.start if pop is not None else None)
    if start is not None and not limits.MIN_DATE <= start <= limits.MAX_DATE:
        raise SimulationError.of(f"the first simulated day must be between {limits.MIN_DATE} and {limits.MAX_DATE}, "
                                 f"got {start}", code="RL611")


def calendar_for(settings: RunSettings, pop: Population) -> Calendar:
    """The simulated days: `settings.months` months from `settings.start`, else the population's
    start, else 2027-01-01."""
    start = settings.start or pop.start or dt.date(2027, 1, 1)
    end = add_months(start, settings.months)
    return Calendar.make(start, (end - start).days)


def _has_budget(program: ir.Program) -> bool:
    return any(r.budget is not None for r in program.rules)


PLAN_CACHE_SIZE = 16  # distinct (program, calendar) plans a process keeps: a what-if command's programs
_plans: list[tuple[ir.Program, Calendar, Plan, list[str]]] = []  # (program, calendar, plan, interned names)


def plan_for(program: ir.Program, cal: Calendar) -> tuple[Plan, StringTable]:
    """The engine's plan of `program` over `cal`, built once per process for every equal program (the
    tasks of all variants of a what-if command, each unpickled anew, share it), and a fresh
    `StringTable` holding exactly the strings the plan interned (a task interns its population's
    strings after them, as it would after building the plan itself). The plan is only read by the
    engine. Raises what `build_plan` raises (SimulationError) every time."""
    for i, (prog, c, plan, names) in enumerate(_plans):
        if c.start == cal.start and c.days == cal.days and (prog is program or prog == program):
            if i:
                _plans.insert(0, _plans.pop(i))
            return plan, _strings(names)
    strings = StringTable()
    plan = build_plan(program, cal, strings)
    _plans.insert(0, (program, cal, plan, list(strings.names)))
    del _plans[PLAN_CACHE_SIZE:]
    return plan, _strings(strings.names)


def _strings(names: list[str]) -> StringTable:
    table = StringTable()
    for name in names[1:]:  # code 0 is the empty string in every table
        table.code(name)
    return table


def run_task(task: Task) -> ChunkResult:
    """Simulate one task in this process (worker processes run this): its trial's chunk result."""
    program, pop, settings, trial, blocks, record = task
    pop = for_task(pop, settings.customers, settings.seed, blocks, settings.block_size)  # no-op when the caller restricted it
    cal = calendar_for(settings, pop)
    plan, strings = plan_for(program, cal)
    tables = segment_tables(pop, strings)
    sim = ChunkSim(plan, pop, tables, strings, settings.seed, trial, blocks, record=record, kernel_for=kernel_for)
    try:
        return sim.run()
    except ExactRangeError as exc:
        raise SimulationError.of(f"the simulation stopped: {exc}", EXACT_RANGE_HINT, code="RL410") from None


def run_task_sharing_draws(task: Task) -> ChunkResult:
    """`run_task`, drawing each block's traits once per process for the tasks of every variant with
    the same draw inputs (`simulator.model.draws.share_draws`): the what-if runs' tasks."""
    share_draws(True)
    return run_task(task)


EXACT_RANGE_HINT = ("the engines hold points exactly only within the bounds of rulelang.limits "
                    "(docs/errors/RL410.md): use smaller point amounts, rates or multipliers, "
                    "smaller purchase amounts in the population, or fewer months")


def run_tasks(tasks: Sequence[Task], workers: int | None,
              progress: Callable[[int, int], None] | None = None, *, scheduler: str | None = None,
              estimate: MemoryEstimate | None = None, shared_draws: bool = False) -> list[ChunkResult]:
    """Run `tasks` and return their results in task order; `progress(done, total)` is called after
    each task. Without `scheduler`: on up to `workers` processes of this machine (None: all cores;
    1: in this process), with `shared_draws` each process drawing a block's traits once for all the
    tasks with the same draw inputs (`run_task_sharing_draws`; the results are the same). With one
    (`local` or `tcp://HOST:PORT`): on a Dask cluster (`simulator.trials.backends`), each worker's
    memory checked first against `estimate`."""
    if scheduler is None:
        if not shared_draws:
            return backends.run_local(run_task, tasks, workers, progress)
        try:
            return backends.run_local(run_task_sharing_draws, tasks, workers, progress)
        finally:
            share_draws(False)  # this process keeps no traits after the run (the workers' go with them)
    backend = backends.dask_backend(scheduler, workers)

    def need(bundle_bytes: int) -> backends.WorkerNeed:
        return worker_need(estimate, bundle_bytes, any(t[1].customers is not None for t in tasks))

    return backend.run(tasks, progress, need if estimate is not None else None)


def preload_for_workers(pop: Population) -> None:
    """Import in this process what the tasks import on first use, so that worker processes (forked
    from this one) inherit the modules instead of each importing them again: the statistics core
    that draws the posterior traits of a customers file's customers (scipy, about 0.7 s a process)."""
    if pop.customers is not None:
        from simulator.model.history_traits import _fit

        _fit()


BUCKET_BYTES = np.dtype(np.int64).itemsize  # one lot bucket of one customer (simulator.engine.lots)
AUTO_MAX_BLOCKS = 4  # the largest automatic chunk: 262 144 customers per task
AUTO_WORKER_BYTES = 384 << 20  # the automatic chunk keeps a worker's customer arrays under this

# What the memory estimate counts (measured with ru_maxrss on 65,536-customer runs, 12 months,
# Python 3.11, numpy; rounded up; see docs/errors/RL612.md):
SLOT_BYTES = 400  # a customer slot's traits and state (measured 415 for rules/coffee.loyalty)
LOT_BYTES = BUCKET_BYTES  # per lot bucket (int64) (the ring of earn days or months) and per pending day
TIER_ECONOMICS_BYTES = 72  # a tiered program's per-customer running totals (7 int64) and the month end's delta
REFERRAL_BYTES = 24  # a pre-drawn referral (day, referrer, sort order: measured 14)
EVENT_BYTES = 64  # a pre-drawn custom event (day, customer, kind, sort order)
EVENT_FIELD_BYTES = 24  # and each of its fields (measured 106 for an event with 3 fields)
WORKER_PROCESS_BYTES = 48 << 20  # a worker process before its customers (measured 43 MiB resident)
# numba and llvmlite with the engine kernel loaded, in each process that runs tasks on the kernel
# (measured 85-115 MiB more peak resident memory per process; benchmarks/README.md)
KERNEL_PROCESS_BYTES = 112 << 20
# and, while numba compiles it (the first run on a machine, or after an upgrade), LLVM's working memory
# (measured 68 MiB more peak for rules/coffee.loyalty on 1,000 customers: 282 MiB cold, 214 MiB cached)
KERNEL_COMPILE_BYTES = 96 << 20
MAIN_PROCESS_BYTES = 128 << 20  # the `loyalty` process itself: Python, numpy, pyarrow, the program (measured
# 97 MiB peak for rules/coffee.loyalty on 1,000 customers; matplotlib for the reports adds some)
TRIAL_BYTES = 16 << 10  # results the main process keeps per trial and arm (measured 30 KiB at 12
TRIAL_MONTH_BYTES = 1536  # months, 91 KiB at 60), plus this per month
WHATIF_TRIAL_FACTOR = 3  # the what-if commands keep per-trial series as well (measured 90 KiB an arm)


@dataclass(frozen=True)
class MemoryEstimate:
    """The memory a run holds at its peak, by part (bytes)."""

    workers: int  # tasks running at once
    processes: int  # worker processes started (0: tasks run in this process)
    customers: int  # customers of the largest task
    per_customer: int  # bytes per customer, spare slots and pre-drawn events included
    spare_slots: float  # spare slots for referred newcomers per customer (expected)
    events: float  # pre-drawn dated events (referrals, custom events) per customer (expected)
    trials_kept: int  # trials × arms whose results the main process keeps
    per_trial: int  # bytes per kept trial
    held: int = 0  # a customers file's columns and the tasks' rows of it
    main: int = MAIN_PROCESS_BYTES  # the main process before any customer
    kernel: int = 0  # the engine kernel's code in every process that runs tasks (simulator.kernel)

    @property
    def worker_bytes(self) -> int:
        return self.workers * self.customers * self.per_customer

    @property
    def process_bytes(self) -> int:
        return self.processes * WORKER_PROCESS_BYTES

    @property
    def result_bytes(self) -> int:
        return self.trials_kept * self.per_trial

    @property
    def total(self) -> int:
        return self.main + self.worker_bytes + self.process_bytes + self.result_bytes + self.held + self.kernel


def _population_draws(pop: Population, days: int) -> tuple[float, float, float]:
    """(spare slots, referrals, bytes of custom events) per customer slot that `pop` draws over
    `days` days, expected over its segments."""
    resp = pop.response
    refs = sum(s.share * s.refer_per_day * resp.referral_action_rate * resp.referral_conversion * days
               for s in pop.segments)
    events = sum(s.share * sum(e.rate_per_day * days * (EVENT_BYTES + EVENT_FIELD_BYTES * len(e.fields))
                               for _, e in s.events) for s in pop.segments)
    spare = min(pop.referral_pool, 1.1 * refs)  # one per drawn referral, at most referral_pool
    return spare, refs, events


def customer_bytes(program: ir.Program, settings: RunSettings, population: Population | None = None) -> int:
    """Estimated bytes a worker holds per customer of `population` (the default one when None):
    `SLOT_BYTES` for traits and state plus `LOT_BYTES` per lot bucket and per pending day, for
    the customer and for its expected spare slots for referred newcomers, plus its pre-drawn
    referrals and custom events (every one is drawn before the run starts)."""
    pop = population or default_population()
    cal = calendar_for(settings, pop)
    return _customer_bytes(_lot_bytes(program, cal), pop, cal.days)


def _lot_bytes(program: ir.Program, cal: Calendar) -> int:
    """The ledger's bytes per customer: its lot buckets, the points by issue-month cohort (one int64
    per month and the opening cohort, plus the current month's earnings and the oldest cohort held:
    simulator.engine.cohorts), and the tier economics' running totals."""
    tiers = TIER_ECONOMICS_BYTES if program.tiers is not None and len(program.tiers.tiers) > 1 else 0
    cohorts = 8 * (cal.months + 3)
    return LOT_BYTES * (plan_for(program, cal)[0].ring_size + program.pending_days) + cohorts + tiers


def _customer_bytes(lot_bytes: int, pop: Population, days: int) -> int:
    spare, refs, event_bytes = _population_draws(pop, days)
    return int(round((SLOT_BYTES + lot_bytes + event_bytes) * (1 + spare) + REFERRAL_BYTES * refs))


def trial_bytes(settings: RunSettings, whatif: bool = False) -> int:
    """Bytes the main process keeps per trial and arm: the chunks' results and the merged trial
    (`TRIAL_BYTES` + `TRIAL_MONTH_BYTES` a month), three times that for the what-if commands."""
    return (TRIAL_BYTES + TRIAL_MONTH_BYTES * settings.months) * (WHATIF_TRIAL_FACTOR if whatif else 1)


def estimate_memory(programs: Sequence[ir.Program], populations: Sequence[Population], settings: RunSettings,
                    chunks: Sequence[Sequence[list[tuple[int, int]]]], tasks: int,
                    whatif: bool = False) -> MemoryEstimate:
    """The peak memory of a run of `programs` (one arm each, with its chunks) on `populations`
    (one a trial, or one for all): the running tasks' customers, the worker processes and the
    per-trial results the main process keeps (see `MemoryEstimate`)."""
    workers = max(1, min(settings.workers or os.cpu_count() or 1, tasks))
    distinct = list({id(p): p for p in populations}.values())
    cal = calendar_for(settings, distinct[0])
    days = cal.days
    per_customer, largest = 0, 0
    for program, arm_chunks in zip(programs, chunks):
        lots = _lot_bytes(program, cal)
        per_customer = max(per_customer, *(_customer_bytes(lots, pop, days) for pop in distinct))
        largest = max(largest, max(sum(n for _, n in c) for c in arm_chunks))
    draws = [_population_draws(p, days) for p in distinct]
    spare = max(d[0] for d in draws)
    events = max(d[1] + sum(s.share * sum(e.rate_per_day * days for _, e in s.events) for s in p.segments)
                 for d, p in zip(draws, distinct))
    on_kernel = any(not kernel_reasons(plan_for(p, cal)[0], pop) for p in programs for pop in distinct)
    processes = workers if workers > 1 else 0
    return MemoryEstimate(workers, processes, largest, per_customer, spare, events,
                          settings.trials * len(programs), trial_bytes(settings, whatif),
                          kernel=_kernel_bytes(processes) if on_kernel else 0)


def _kernel_bytes(processes: int) -> int:
    """The engine kernel's code in every process that runs tasks, with the compiler's memory when
    the kernel is not compiled yet (each process then compiles it)."""
    from simulator.kernel.dispatch import kernel_compiled

    per = KERNEL_PROCESS_BYTES + (0 if kernel_compiled() else KERNEL_COMPILE_BYTES)
    return per * max(processes, 1)


def auto_chunk_blocks(program: ir.Program, settings: RunSettings, blocks: int,
                      population: Population | None = None) -> int:
    """Blocks per task when no chunk size is given: as many as `AUTO_MAX_BLOCKS` (fewer per-day
    numpy calls per customer), but enough tasks to keep every worker busy and a worker's arrays
    under `AUTO_WORKER_BYTES`. Results never depend on it."""
    workers = settings.workers or os.cpu_count() or 1
    per = min(AUTO_MAX_BLOCKS, max(1, blocks * settings.trials // workers))
    fits = AUTO_WORKER_BYTES // (customer_bytes(program, settings, population) * settings.block_size)
    return max(1, min(per, fits))


def plan_tasks(program: ir.Program, settings: RunSettings,
               population: Population | None = None) -> list[list[tuple[int, int]]]:
    """The chunks of one trial: runs of whole blocks of `settings.chunk_size` customers (chosen by
    `auto_chunk_blocks` when None), or every block in one chunk when a global budget couples the
    customers."""
    block_size = settings.block_size
    blocks = blocks_for(settings.customers, block_size)
    if _has_budget(program):
        return [blocks]
    if settings.chunk_size is None:
        per = auto_chunk_blocks(program, settings, len(blocks), population)
    else:
        per = max(1, settings.chunk_size // block_size)
    return [blocks[i:i + per] for i in range(0, len(blocks), per)]


HISTORY_ROW_BYTES = 64  # a customers-file row a task holds per customer (history, balance, tier, dates)
DASK_WORKER_BYTES = 128 << 20  # a Dask worker process with the simulator imported, before its customers
# (measured 77 MiB resident; 117 MiB with the statistics core that a customers file's posterior draws load)


def worker_need(est: MemoryEstimate, bundle_bytes: int, customers_file: bool) -> backends.WorkerNeed:
    """What one Dask worker holds (`backends.WorkerNeed`): its process, the scattered bundle of
    `bundle_bytes`, and per running task the largest task's customers of `est` (with their
    customers-file rows when the population has a customers file)."""
    per = est.per_customer + (HISTORY_ROW_BYTES if customers_file else 0)
    return backends.WorkerNeed(process=DASK_WORKER_BYTES, bundle=bundle_bytes, customers=est.customers,
                               per_customer=per)


def _size(b: float) -> str:
    return f"{b / 2**30:.1f} GiB" if b >= 2**30 else f"{b / 2**20:.0f} MiB" if b >= 2**20 else f"{b / 2**10:.0f} KiB"


def check_memory(program: ir.Program, settings: RunSettings, chunks: Sequence[list[tuple[int, int]]],
                 tasks: int, available: int | None = None, *, population: Population | None = None,
                 estimate: MemoryEstimate | None = None, held_bytes: int = 0) -> MemoryEstimate:
    """Refuse a run that would not fit in memory (RL612), before starting it; returns the
    estimate (`estimate_memory` of `program` on `population`, unless `estimate` is given). On a
    Dask cluster (`settings.scheduler`) only this process's part is checked here: the customers are
    in the workers, checked against their own memory limits (RL950) when the run starts."""
    full = est = estimate or estimate_memory([program], [population or default_population()], settings, [chunks], tasks)
    if held_bytes:  # a customers file: its columns held here, and each task's rows in the workers
        full = est = dataclasses.replace(est, held=held_bytes + HISTORY_ROW_BYTES * est.customers * est.workers)
    if settings.scheduler is not None:
        est = dataclasses.replace(est, workers=0, processes=0, held=held_bytes)
    available = available_memory() if available is None else available
    if not available or est.total <= available:
        return full
    parts = [f"{est.workers} worker(s) × {est.customers:,} customers × {est.per_customer:,} bytes"]
    parts.insert(0, f"{_size(est.main)} for the program itself")
    if est.processes:
        parts.append(f"{est.processes} worker processes × {_size(WORKER_PROCESS_BYTES)}")
    if est.kernel:
        parts.append(f"{_size(est.kernel)} for the engine kernel's code")
    parts.append(f"{est.trials_kept:,} trial results × {_size(est.per_trial)}")
    biggest = max((est.worker_bytes, "customers"), (est.process_bytes, "processes"), (est.result_bytes, "trials"))[1]
    if biggest == "trials":
        why = "use fewer --trials (or fewer variants); more trials narrow the intervals only as 1/√trials"
    elif est.events > 1000 or est.spare_slots > 1:
        why = (f"each customer draws about {est.events:,.0f} dated events (referrals, custom events) and "
               f"{est.spare_slots:.2f} spare slots before the run: lower the population's `refer`, `events` "
               "rates or `referral_pool`, or --months; or use fewer --workers or a smaller --block-size")
    elif len(chunks) == 1 and est.customers > settings.block_size and _has_budget(program):
        why = ("a global `budget` couples all customers, so a whole trial runs as one task; "
               "simulate fewer customers (the budget's effect scales with them) or drop the budget for this run")
    else:
        why = "use fewer --workers, a smaller --block-size, or fewer --customers"
    raise SimulationError.of(
        f"this run needs about {_size(est.total)} of memory ({' + '.join(parts)}) but {_size(available)} is available",
        why, code="RL612")


def simulate(program: ir.Program | None, population: Population | None = None, *,
             customers: int = 10_000, months: int = 12, trials: int = 10, seed: int = 0,
             workers: int | None = None, chunk_size: int | None = None, start: dt.date | None = None,
             program_source_hash: str | None = None, record: int = 0,
             progress: Callable[[int, int], None] | None = None, block_size: int = BLOCK,
             scheduler: str | None = None) -> RunResult:
    """Run `trials` Monte Carlo trials of `program` on `population`; returns a RunResult.

    `chunk_size` (customers per task) must be a multiple of `block_size` (None: chosen by
    `auto_chunk_blocks`; results do not depend on it). `block_size` is the RNG block
    (65 536; tests pass a smaller one). `record` > 0 keeps the event streams and ledgers
    of that many customers of block 0 (differential tests). `scheduler` runs the tasks on a Dask
    cluster (`local` or `tcp://HOST:PORT`, see `RunSettings.scheduler`) with the same results.
    """
    if customers <= 0 or months <= 0 or trials <= 0:
        raise SimulationError.of("customers, months and trials must be positive", code="RL611")
    if block_size <= 0:
        raise SimulationError.of("the RNG block size must be positive", code="RL611")
    if chunk_size is not None and (chunk_size <= 0 or chunk_size % block_size):
        raise SimulationError.of(f"the chunk size must be a multiple of {block_size}", code="RL611",
                                 hint=f"use --block-size {block_size} or a multiple of it")
    pop = population or default_population()
    prog = program or empty_program()
    settings = RunSettings(customers, months, trials, seed, workers, chunk_size, start, block_size, scheduler)
    check_settings(settings, pop)
    cal = calendar_for(settings, pop)
    plan_for(prog, cal)  # raise unsupported constructs before starting workers
    chunks = plan_tasks(prog, settings, population=pop)
    check_customers(prog, pop)
    estimate = check_memory(prog, settings, chunks, trials * len(chunks), population=pop,
                            held_bytes=customers_file_bytes(pop))
    tasks = [(prog, for_task(pop, customers, seed, blocks, block_size), settings, t, blocks,
              record if ci == 0 else 0)
             for t in range(trials) for ci, blocks in enumerate(chunks)]
    preload_for_workers(pop)
    results = iter(run_tasks(tasks, workers, progress, scheduler=scheduler, estimate=estimate))  # trial by trial,
    # chunks in block order
    per_trial = [merge_chunks([next(results) for _ in chunks], pop) for _ in range(trials)]
    meta = run_meta(prog, pop, settings, cal, program_source_hash=program_source_hash,
                    chunk_size=len(chunks[0]) * block_size)
    return build_result(meta, prog, pop, per_trial, cal)


def check_customers(program: ir.Program, pop: Population) -> None:
    """The customers file's tiers are the program's (RL645), and the lines' attributes the
    population draws are the program's line attributes, of their types (RL258), before any
    worker starts."""
    if pop.customers is not None:
        check_tiers(pop, [t.name for t in program.tiers.tiers] if program.tiers else [])
    wrong = check_population_attributes(program, pop)
    if wrong:
        err = SimulationError(wrong)
        files = {d.span.file for d in wrong if d.span.file}
        try:  # the population file's text, so that the errors show its lines
            err.sources = {f: open(f, encoding="utf-8").read() for f in files}  # type: ignore[attr-defined]
        except OSError:
            pass
        raise err


def customers_file_bytes(pop: Population) -> int:
    """Memory this process holds for the population's customers file (0 without one)."""
    base = getattr(pop.customers, "base", pop.customers)
    return int(base.nbytes) if base is not None else 0


def run_meta(program: ir.Program, pop: Population, settings: RunSettings, cal: Calendar, *,
             program_source_hash: str | None = None, population_hash: str | None = None,
             population_file: str | None = None, chunk_size: int | None = None) -> dict[str, Any]:
    """The `meta` of a RunResult: settings, calendar, program, population and versions
    (the hashes and population file default to the program's and the population's own)."""
    response_on = pop.response.changes_behaviour or pop.response.referral_conversion
    return {
        "seed": settings.seed, "trials": settings.trials, "customers": settings.customers,
        "months": settings.months, "start": cal.start.isoformat(), "end": cal.end.isoformat(), "days": cal.days,
        "block_size": settings.block_size, "chunk_size": chunk_size or settings.chunk_size, "program": program.name,
        "program_hash": program_source_hash or program_hash(program), "currency": program.currency,
        "points_unit": program.points_unit,
        "population": pop.name, "population_hash": population_hash or pop.source_hash,
        "population_file": population_file if population_file is not None else pop.path,
        "package_version": package_version(), "engine_version": ENGINE_VERSION,
        "model": pop.model, "response": "on" if response_on else "off",
        "engine": engine_label(plan_for(program, cal)[0], pop),  # kernel, or numpy and why
        **customers_meta(pop, settings),
    }


def customers_meta(pop: Population, settings: RunSettings) -> dict[str, Any]:
    """The customers file of the run (its path, hash, rows, and how the run's customers were taken)."""
    base = getattr(pop.customers, "base", pop.customers)
    if base is None:
        return {}
    n, rows = settings.customers, base.size
    how = "every row once" if n == rows else ("a sample without replacement" if n < rows else "rows drawn with replacement")
    return {"customers_file": base.path, "customers_hash": base.digest, "customers_in_file": rows,
            "customers_sampling": how}


def economics_costs(monthly: dict[str, np.ndarray], pop: Population) -> dict[str, np.ndarray]:
    """The trial's monthly fixed cost and acquisition cost (cents) from its merged monthly counts and
    `pop.economics`: members × the fixed cost per member-month + the fixed cost per month (once a month
    of the trial, whatever the number of chunks), and referred newcomers × the cost per referred customer.
    These are exactly the sums the engine's chunks make (nmem × cost each month, nc × cost per referral
    round: integer products, so their sum over chunks is the product of the sums), so the economics
    never need to reach a worker: what-if variants that differ only in them share one simulation
    (`simulator.whatif.runner.ENGINE_NEUTRAL_ECONOMICS`)."""
    econ = pop.economics
    members, newcomers = monthly["program.members"], monthly["program.new_customers"]
    fixed = checked_add(fits_int64(mul(members, econ.fixed_cost_per_member_month_cents)),
                        np.full(members.size, econ.fixed_cost_per_month_cents, np.int64))
    return {"program.fixed_cost_cents": fixed,
            "program.acquisition_cents": fits_int64(mul(newcomers, econ.acquisition_cost_cents))}


def merge_chunks(parts: Sequence[ChunkResult], pop: Population) -> ChunkResult:
    """One trial's result from its chunks' results, given in block order, on the trial's population
    `pop`. A chunk returns only sums over its customers (int64: exact in any grouping) and maxima;
    the costs set by the population's economics are computed here, once, from the merged counts
    (`economics_costs`)."""
    first = parts[0]
    monthly = {k: v.copy() for k, v in first.monthly.items()}
    totals = dict(first.totals)
    tiers = first.tier_counts.copy()
    tier_flows = {k: v.copy() for k, v in first.tier_flows.items()}
    cohorts = {k: v.copy() for k, v in first.cohorts.items()}
    records = dict(first.records)
    try:
        for p in parts[1:]:
            for k, v in p.monthly.items():
                monthly[k] = checked_add(monthly[k], v)
            for k, v in p.totals.items():
                if k == "ledger_identity_max_abs_error":
                    totals[k] = max(totals[k], v)
                else:
                    totals[k] += v  # Python ints
            tiers += p.tier_counts
            for k, v in p.tier_flows.items():
                tier_flows[k] = checked_add(tier_flows[k], v)
            for k, v in p.cohorts.items():
                cohorts[k] = checked_add(cohorts[k], v)
        for k, v in totals.items():  # the report keeps a trial's totals as int64
            if abs(v) >= 2**63:
                raise ExactRangeError(f"the trial's {k} ({v:.3e}) is beyond int64 (9.2e18): simulate fewer customers")
        monthly.update(economics_costs(monthly, pop))
    except ExactRangeError as exc:
        raise SimulationError.of(f"the simulation stopped: {exc}", EXACT_RANGE_HINT, code="RL410") from None
    return ChunkResult(monthly, totals, tiers, records, tier_flows, cohorts)
