"""Monte Carlo runner: trials × chunks of RNG blocks, in parallel, reproducibly.

Takes: a compiled `ir.Program` (or None for "no program"), a `Population` and run
settings. Gives: `RunResult` (see `simulator.result`). Each task is (trial, chunk)
where a chunk is a run of whole 2^16-customer RNG blocks; block streams are keyed
by (seed, trial, block), and every metric a chunk returns is an int64 sum over its
customers (or a maximum), so the totals are bit-identical for any number of workers and
any chunk size; quantities of the trial as a whole (the fixed cost per month) are added
once, after the chunks are merged (`merge_chunks`). Programs
with a global budget couple customers, so each trial then runs as one chunk.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from rulelang import ir, limits

from .calendar import Calendar, add_months
from .conditions import StringTable
from .draws import segment_tables
from .engine import BLOCK, ChunkResult, ChunkSim, blocks_for
from .plan import SimulationError, build_plan
from .population import Population, default_population
from .result import RunResult, build_result

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


# (program, population, settings, trial, blocks, customers to record): one unit of work
Task = tuple[ir.Program, Population, RunSettings, int, list[tuple[int, int]], int]


def empty_program(name: str = "no program") -> ir.Program:
    """A program with no rules: the simulation of it equals the baseline."""
    return ir.Program(name=name, points_unit="points", currency="USD", point_cost_cents=0,
                      point_value_cents=None, stacking="multiply", rounding="down", pending_days=0,
                      events=(), attributes=(), counters=(), rules=(), tiers=None, expiry=(),
                      returns=ir.ReturnPolicy(False, False), rewards=(), pay_with_points=None, conversion=None)


def program_hash(program: ir.Program, source: str | None = None) -> str:
    """rulelang.compiler.program_hash when available, else sha256 of the source (or of the IR's repr)."""
    try:
        from rulelang.compiler import program_hash as ph  # type: ignore[attr-defined]
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


def run_task(task: Task) -> ChunkResult:
    """Simulate one task in this process (worker processes run this): its trial's chunk result."""
    program, pop, settings, trial, blocks, record = task
    strings = StringTable()
    cal = calendar_for(settings, pop)
    plan = build_plan(program, cal, strings)
    tables = segment_tables(pop, strings)
    sim = ChunkSim(plan, pop, tables, strings, settings.seed, trial, blocks, record=record)
    return sim.run()


def run_tasks(tasks: Sequence[Task], workers: int | None,
              progress: Callable[[int, int], None] | None = None) -> list[ChunkResult]:
    """Run `tasks` on up to `workers` processes (None: all cores; 1: in this process) and return
    their results in task order; `progress(done, total)` is called after each task."""
    nworkers = workers if workers is not None else (os.cpu_count() or 1)
    nworkers = max(1, min(nworkers, len(tasks)))
    results: list[ChunkResult] = []
    with ExitStack() as stack:
        if nworkers == 1:
            outcomes: Iterable[ChunkResult] = map(run_task, tasks)
        else:
            outcomes = stack.enter_context(ProcessPoolExecutor(max_workers=nworkers)).map(run_task, tasks)
        try:
            for res in outcomes:
                results.append(res)
                if progress:
                    progress(len(results), len(tasks))
        except (MemoryError, BrokenProcessPool) as exc:
            what = "ran out of memory" if isinstance(exc, MemoryError) else "was stopped (most often: out of memory)"
            raise SimulationError.of(f"a simulation worker {what}",
                                     "use fewer --workers, a smaller --block-size, or fewer --customers",
                                     code="RL612") from None
    return results


AUTO_MAX_BLOCKS = 4  # the largest automatic chunk: 262 144 customers per task
AUTO_WORKER_BYTES = 384 << 20  # the automatic chunk keeps a worker's customer arrays under this


def customer_bytes(program: ir.Program, settings: RunSettings) -> int:
    """Estimated bytes a worker holds per customer: about 400 for traits and state (measured),
    plus 4 per lot bucket (the ring of earn days or months) and per pending day."""
    plan = build_plan(program, calendar_for(settings, default_population()), StringTable())
    return 400 + 4 * (plan.ring_size + program.pending_days)


def auto_chunk_blocks(program: ir.Program, settings: RunSettings, blocks: int) -> int:
    """Blocks per task when no chunk size is given: as many as `AUTO_MAX_BLOCKS` (fewer per-day
    numpy calls per customer), but enough tasks to keep every worker busy and a worker's arrays
    under `AUTO_WORKER_BYTES`. Results never depend on it."""
    workers = settings.workers or os.cpu_count() or 1
    per = min(AUTO_MAX_BLOCKS, max(1, blocks * settings.trials // workers))
    fits = AUTO_WORKER_BYTES // (customer_bytes(program, settings) * settings.block_size)
    return max(1, min(per, fits))


def plan_tasks(program: ir.Program, settings: RunSettings) -> list[list[tuple[int, int]]]:
    """The chunks of one trial: runs of whole blocks of `settings.chunk_size` customers (chosen by
    `auto_chunk_blocks` when None), or every block in one chunk when a global budget couples the
    customers."""
    block_size = settings.block_size
    blocks = blocks_for(settings.customers, block_size)
    if _has_budget(program):
        return [blocks]
    if settings.chunk_size is None:
        per = auto_chunk_blocks(program, settings, len(blocks))
    else:
        per = max(1, settings.chunk_size // block_size)
    return [blocks[i:i + per] for i in range(0, len(blocks), per)]


def available_memory() -> int | None:
    """Bytes of memory available to new work (Linux `MemAvailable`), None when unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(program: ir.Program, settings: RunSettings, chunks: Sequence[list[tuple[int, int]]],
                 tasks: int, available: int | None = None) -> None:
    """Refuse a run whose workers would not fit in memory (RL612), before starting it: each
    running task holds its chunk's customers (plus up to 10 % spare slots for referred newcomers,
    as a typical population draws) at `customer_bytes` each."""
    available = available_memory() if available is None else available
    if not available:
        return
    largest = max(sum(n for _, n in c) for c in chunks)
    workers = max(1, min(settings.workers or os.cpu_count() or 1, tasks))
    per_customer = customer_bytes(program, settings)
    need = int(largest * 1.1 * per_customer) * workers
    if need <= available:
        return
    gib = lambda b: f"{b / 2**30:.1f} GiB"  # noqa: E731
    if len(chunks) == 1 and largest > settings.block_size and _has_budget(program):
        why = ("a global `budget` couples all customers, so a whole trial runs as one task; "
               "simulate fewer customers (the budget's effect scales with them) or drop the budget for this run")
    else:
        why = "use fewer --workers, a smaller --block-size, or fewer --customers"
    raise SimulationError.of(
        f"this run needs about {gib(need)} of memory ({workers} worker(s) × {largest:,} customers × "
        f"{per_customer} bytes) but {gib(available)} is available", why, code="RL612")


def simulate(program: ir.Program | None, population: Population | None = None, *,
             customers: int = 10_000, months: int = 12, trials: int = 10, seed: int = 0,
             workers: int | None = None, chunk_size: int | None = None, start: dt.date | None = None,
             program_source_hash: str | None = None, record: int = 0,
             progress: Callable[[int, int], None] | None = None, block_size: int = BLOCK) -> RunResult:
    """Run `trials` Monte Carlo trials of `program` on `population`; returns a RunResult.

    `chunk_size` (customers per task) must be a multiple of `block_size` (None: chosen by
    `auto_chunk_blocks`; results do not depend on it). `block_size` is the RNG block
    (65 536; tests pass a smaller one). `record` > 0 keeps the event streams and ledgers
    of that many customers of block 0 (differential tests).
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
    settings = RunSettings(customers, months, trials, seed, workers, chunk_size, start, block_size)
    check_settings(settings, pop)
    cal = calendar_for(settings, pop)
    build_plan(prog, cal, StringTable())  # raise unsupported constructs before starting workers
    chunks = plan_tasks(prog, settings)
    check_memory(prog, settings, chunks, trials * len(chunks))
    tasks = [(prog, pop, settings, t, blocks, record if ci == 0 else 0)
             for t in range(trials) for ci, blocks in enumerate(chunks)]
    results = iter(run_tasks(tasks, workers, progress))  # trial by trial, chunks in block order
    per_trial = [merge_chunks([next(results) for _ in chunks], pop) for _ in range(trials)]
    meta = run_meta(prog, pop, settings, cal, program_source_hash=program_source_hash,
                    chunk_size=len(chunks[0]) * block_size)
    return build_result(meta, prog, pop, per_trial, cal)


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
    }


def merge_chunks(parts: Sequence[ChunkResult], pop: Population) -> ChunkResult:
    """One trial's result from its chunks' results, given in block order, on the trial's population
    `pop`. A chunk returns only sums over its customers (int64: exact in any grouping) and maxima;
    what belongs to the trial as a whole is added here, once: the fixed cost per month."""
    first = parts[0]
    monthly = {k: v.copy() for k, v in first.monthly.items()}
    totals = dict(first.totals)
    tiers = first.tier_counts.copy()
    records = dict(first.records)
    for p in parts[1:]:
        for k, v in p.monthly.items():
            monthly[k] += v
        for k, v in p.totals.items():
            if k == "ledger_identity_max_abs_error":
                totals[k] = max(totals[k], v)
            else:
                totals[k] += v
        tiers += p.tier_counts
    # per trial, not per customer: charged once a month whatever the number of chunks
    monthly["program.fixed_cost_cents"] = monthly["program.fixed_cost_cents"] + pop.economics.fixed_cost_per_month_cents
    return ChunkResult(monthly, totals, tiers, records)
