"""Where the (trial, chunk) tasks run: this machine's process pool, or a Dask cluster.

Takes: the tasks of `simulator.trials.montecarlo` (program, population, settings, trial, blocks,
customers to record), the function that runs one of them, and where to run them (`--workers` for
the process pool; `--scheduler local` or `tcp://HOST:PORT` for Dask). Gives: their results in
task order, so that the merges, and so every figure, are bit-identical wherever the tasks ran
(each task's random streams are keyed by seed, trial and block, never by the worker).

On Dask (`dask_backend`): the distinct programs and populations (without a customers file's rows)
travel once, as one scattered bundle on every worker; a task carries only its trial, its blocks
and the rows of its own customers; it returns its chunk's summary sums. Before anything is sent,
each worker's memory limit is checked against what its running tasks will hold (RL950). A
scheduler that cannot be reached (RL951), workers that run other versions (RL952), dask missing
(RL953), a task lost after Dask's retries (RL954) and a cluster without workers (RL955) are
errors with a hint. The dask import happens only here, only when a scheduler is given.
"""

from __future__ import annotations

import atexit
import dataclasses
import functools
import os
import pickle
import platform
import re
import sys
import uuid
from concurrent.futures import CancelledError, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Sequence

from rulelang.diagnostics import RulelangError

from simulator.engine.program_plan import SimulationError
from simulator.model.customers_file import ChunkRows

Progress = Callable[[int, int], None]
IN_FLIGHT = 2  # tasks with a customers file's rows submitted per worker thread at a time
RETRIES = 2  # a task that raises is run again this many times; a worker that dies: Dask's allowed-failures
VERSIONS_HINT = ("install the same versions on the workers as here (numpy's random streams and the engine decide "
                 "the numbers; Dask needs its own versions to match): pip install the same requirements everywhere")
INSTALL_HINT = 'install the Dask extra: pip install ".[dask]" (or pip install "dask[distributed]")'
# Set in the worker processes of `--scheduler local` before they start (docs/cluster.md asks the same of
# `dask worker`): Dask's nanny sets MALLOC_TRIM_THRESHOLD_, which turns off glibc's adaptive mmap threshold,
# so that every numpy array over 128 KiB is mapped and unmapped afresh: the engine ran 35% slower (8.4 s
# against 6.2 s for 262,144 customers × 12 months); a fixed 32 MiB threshold gives the speed back.
WORKER_ENVIRON = {"MALLOC_MMAP_THRESHOLD_": 33554432}
# The workers' statistical profiler (a dashboard view) samples the running task's stack every 10 ms,
# taking the interpreter lock from the engine: off in the workers of `--scheduler local`.
WORKER_CONFIG = {"distributed.worker.profile.enabled": False}
ADDRESS = re.compile(r"^(?:(?:tcp|tls|ucx|ws|wss)://)?\[?[\w.:-]+\]?:\d+$")


# ---------------------------------------------------------------- this machine's process pool


_shared: list[tuple[int, ProcessPoolExecutor]] = []  # the pool of the open `shared_pool()` scope, if any
_scopes = 0  # `shared_pool()` scopes open in this process


@contextmanager
def shared_pool() -> Iterator[None]:
    """Within this scope every `run_local` of this process runs on one process pool, started at the
    first run that needs one and closed when the outermost scope ends (a command that runs several
    simulations one after the other: `plan` over a change with several programs). Outside a scope,
    each `run_local` starts and closes its own pool (worker processes then never outlive a run)."""
    global _scopes
    _scopes += 1
    try:
        yield
    finally:
        _scopes -= 1
        if _scopes == 0:
            _close_shared()


def _close_shared() -> None:
    while _shared:
        _shared.pop()[1].shutdown(wait=True, cancel_futures=True)


def _pool(stack: ExitStack, nworkers: int) -> ProcessPoolExecutor:
    """A pool of (at least) `nworkers` processes: the scope's (started now if it has none or a smaller
    one), else a pool of this run that `stack` closes."""
    if not _scopes:
        return stack.enter_context(ProcessPoolExecutor(max_workers=nworkers))
    if _shared and _shared[0][0] >= nworkers:
        return _shared[0][1]
    _close_shared()
    _shared.append((nworkers, ProcessPoolExecutor(max_workers=nworkers)))
    return _shared[0][1]


def run_local(run: Callable[[Any], Any], tasks: Sequence[Any], workers: int | None,
              progress: Progress | None = None) -> list[Any]:
    """Run `tasks` on up to `workers` processes (None: all cores; 1: in this process) and return
    their results in task order; `progress(done, total)` is called after each task. Inside a
    `shared_pool()` scope the processes are the scope's."""
    nworkers = workers if workers is not None else (os.cpu_count() or 1)
    nworkers = max(1, min(nworkers, len(tasks)))
    results: list[Any] = []
    with ExitStack() as stack:
        if nworkers == 1:
            outcomes: Iterable[Any] = map(run, tasks)
        else:
            outcomes = _pool(stack, nworkers).map(run, tasks)
        try:
            for res in outcomes:
                results.append(res)
                if progress:
                    progress(len(results), len(tasks))
        except (MemoryError, BrokenProcessPool) as exc:
            if isinstance(exc, BrokenProcessPool):
                _close_shared()  # a broken pool runs nothing more
            what = "ran out of memory" if isinstance(exc, MemoryError) else "was stopped (most often: out of memory)"
            raise SimulationError.of(f"a simulation worker {what}",
                                     "use fewer --workers, a smaller --block-size, or fewer --customers",
                                     code="RL612") from None
    return results


# ---------------------------------------------------------------- what a Dask worker must hold


@dataclass(frozen=True)
class WorkerNeed:
    """The memory one Dask worker holds at its peak: its process and the scattered bundle, plus
    each running task's customers (one task per worker thread)."""

    process: int  # the worker process before any customer
    bundle: int  # the scattered programs and populations (pickled bytes)
    customers: int  # customers of the largest task
    per_customer: int  # bytes per customer of a running task

    def total(self, threads: int) -> int:
        return self.process + self.bundle + threads * self.customers * self.per_customer


def _size(b: float) -> str:
    return f"{b / 2**30:.1f} GiB" if b >= 2**30 else f"{b / 2**20:.0f} MiB" if b >= 2**20 else f"{b / 2**10:.0f} KiB"


def check_worker_memory(workers: dict[str, dict[str, Any]], need: WorkerNeed, usable: float) -> None:
    """RL950 when a worker's `memory_limit` (bytes; 0 or None: no limit), times the share `usable`
    of it a worker may fill before Dask pauses it, is below what its `nthreads` running tasks need."""
    short = []
    for address, w in sorted(workers.items()):
        limit, threads = w.get("memory_limit") or 0, max(1, int(w.get("nthreads") or 1))
        if limit and need.total(threads) > limit * usable:
            short.append((need.total(threads) - limit * usable, address, limit, threads))
    if not short:
        return
    _, address, limit, threads = max(short)
    raise SimulationError.of(
        f"{len(short)} of {len(workers)} Dask worker(s) have too little memory for this run: {address} runs "
        f"{threads} task(s) at once and would need about {_size(need.total(threads))} ({_size(need.process)} for "
        f"the worker + {_size(need.bundle)} of program and population + {threads} × {need.customers:,} customers "
        f"× {need.per_customer:,} bytes) but its memory limit is {_size(limit)} (Dask pauses a worker at "
        f"{usable:.0%} of it)",
        "use a smaller --block-size (fewer customers per task), workers with more memory or fewer threads "
        "(dask worker --memory-limit 4GiB --nthreads 1), and add workers for speed",
        code="RL950")


# ---------------------------------------------------------------- versions


def worker_versions() -> dict[str, str]:
    """The versions a task's numbers depend on (numpy's random streams, the engine) and those Dask
    needs to exchange tasks, as this process has them (each worker runs this too)."""
    import cloudpickle
    import dask
    import distributed
    import numpy

    from simulator.trials.montecarlo import ENGINE_VERSION, package_version

    return {"python": ".".join(platform.python_version_tuple()[:2]), "numpy": numpy.__version__,
            "loyalty-rules": package_version(), "engine": ENGINE_VERSION, "dask": dask.__version__,
            "distributed": distributed.__version__, "cloudpickle": cloudpickle.__version__}


def version_mismatches(mine: dict[str, str], workers: dict[str, dict[str, str]]) -> list[str]:
    """`package: here X, worker ADDRESS Y` for every version a worker has other than this process."""
    out = []
    for address, theirs in sorted(workers.items()):
        for name, version in mine.items():
            if theirs.get(name) != version:
                out.append(f"{name}: here {version}, worker {address} {theirs.get(name, 'missing')}")
    return out


# ---------------------------------------------------------------- Dask


@dataclass(frozen=True)
class Bundle:
    """What every task of a run shares, scattered once to every worker."""

    programs: tuple[Any, ...]
    populations: tuple[Any, ...]  # without a customers file's rows: each task carries its own
    versions: dict[str, str] = dataclasses.field(default_factory=dict)  # the client's `worker_versions()`


@functools.lru_cache(maxsize=1)
def _own_versions() -> tuple[tuple[str, str], ...]:
    return tuple(sorted(worker_versions().items()))


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):  # not in a Dask worker
        return "(not a Dask worker)"


def _run_chunk(bundle: Bundle, program: int, population: int, rows: Any, settings: Any, trial: int,
               blocks: list[tuple[int, int]], record: int) -> Any:
    """One task on a Dask worker: `simulator.trials.montecarlo.run_task` on the bundle's program and
    population (with the task's customer rows). A located error of the engine (RL410) comes back as
    a value, so Dask does not run the same inputs again; so does a worker that joined after the
    run's version check and runs other versions (RL952)."""
    from simulator.trials.montecarlo import run_task

    wrong = version_mismatches(bundle.versions, {_worker_name(): dict(_own_versions())}) if bundle.versions else []
    if wrong:
        return _Failed(SimulationError.of("a Dask worker runs other versions than this machine: " + "; ".join(wrong),
                                          VERSIONS_HINT, code="RL952"))
    pop = bundle.populations[population]
    if rows is not None:
        pop = dataclasses.replace(pop, customers=rows)
    try:
        return run_task((bundle.programs[program], pop, settings, trial, blocks, record))
    except RulelangError as exc:
        return _Failed(exc)


@dataclass(frozen=True)
class _Failed:
    error: RulelangError


def bundle_tasks(tasks: Sequence[Any]) -> tuple[Bundle, list[tuple[int, int, Any, Any, int, list, int]]]:
    """The distinct programs and populations of `tasks` (a population restricted to a task's rows
    counts once, without them), and per task (program index, population index, rows or None,
    settings, trial, blocks, record)."""
    programs: dict[int, int] = {}
    pops: dict[tuple, int] = {}
    prog_list: list[Any] = []
    pop_list: list[Any] = []
    out = []
    for program, pop, settings, trial, blocks, record in tasks:
        if id(program) not in programs:
            programs[id(program)] = len(prog_list)
            prog_list.append(program)
        rows = pop.customers if isinstance(pop.customers, ChunkRows) else None
        key = tuple(id(getattr(pop, f.name)) for f in dataclasses.fields(pop) if f.name != "customers")
        key += (id(rows.base) if rows is not None else id(pop.customers),)
        if key not in pops:
            pops[key] = len(pop_list)
            pop_list.append(dataclasses.replace(pop, customers=None) if rows is not None else pop)
        out.append((programs[id(program)], pops[key], rows, settings, trial, blocks, record))
    return Bundle(tuple(prog_list), tuple(pop_list), worker_versions()), out


def check_address(scheduler: str) -> str:
    """`local`, or a scheduler address `tcp://HOST:PORT` (also `tls://`, or `HOST:PORT`)."""
    if scheduler != "local" and not ADDRESS.match(scheduler):
        raise ValueError(f"expected `local` or a scheduler address such as tcp://10.0.0.5:8786, got {scheduler!r}")
    return scheduler


def import_distributed() -> Any:
    """The `distributed` package, or RL953 when it is not installed."""
    try:
        import distributed
    except ImportError:
        raise SimulationError.of("--scheduler needs Dask, which is not installed", INSTALL_HINT, code="RL953") from None
    return distributed


class DaskBackend:
    """A Dask client (and the LocalCluster it started for `--scheduler local`)."""

    def __init__(self, client: Any, cluster: Any = None):
        self.client, self.cluster = client, cluster

    def workers(self) -> dict[str, dict[str, Any]]:
        return dict(self.client.scheduler_info(n_workers=-1).get("workers", {}))

    def check_memory(self, need: WorkerNeed) -> None:
        import dask

        usable = dask.config.get("distributed.worker.memory.pause", 0.8) or dask.config.get(
            "distributed.worker.memory.terminate", 0.95) or 1.0
        check_worker_memory(self.workers(), need, float(usable))

    def threads(self) -> int:
        return sum(max(1, int(w.get("nthreads") or 1)) for w in self.workers().values())

    def run(self, tasks: Sequence[Any], progress: Progress | None = None,
            need: Callable[[int], WorkerNeed] | None = None) -> list[Any]:
        """Run `tasks` on the cluster; their results in task order. `need(bundle bytes)` gives
        what a worker must hold (checked before anything is sent). Tasks that carry a customers
        file's rows are submitted `IN_FLIGHT` per worker thread at a time, so that the scheduler
        never holds every task's rows at once; the others all at once."""
        distributed = import_distributed()
        import dask

        bundle, parts = bundle_tasks(tasks)
        size = len(pickle.dumps(bundle, protocol=5))
        if need is not None:
            self.check_memory(need(size))
        client = self.client
        [shared] = client.scatter([bundle], broadcast=True, hash=False)
        run = uuid.uuid4().hex[:12]
        heavy = any(part[2] is not None for part in parts)
        window = max(2, IN_FLIGHT * self.threads()) if heavy else len(parts)
        futures: list[Any] = []
        where: dict[str, int] = {}

        def submit() -> Any:
            i = len(futures)
            with dask.config.set({"distributed.admin.large-graph-warning-threshold": "1GB"}):  # rows: a task's own data
                fut = client.submit(_run_chunk, shared, *parts[i], retries=RETRIES, pure=False, key=f"loyalty-{run}-{i}")
            futures.append(fut)
            where[fut.key] = i
            return fut

        pending = distributed.as_completed([submit() for _ in range(min(window, len(parts)))], loop=client.loop)
        results: list[Any] = [None] * len(parts)
        try:
            for done, fut in enumerate(pending, 1):
                try:
                    value = fut.result()
                except distributed.KilledWorker as exc:
                    raise SimulationError.of(
                        f"a simulation task was lost: {exc}",
                        "the workers running it died, most often out of memory (see the workers' logs): use a "
                        "smaller --block-size or workers with more memory; the run can be started again, it "
                        "gives the same numbers", code="RL954") from None
                except (MemoryError, CancelledError) as exc:  # cancelled: the scheduler or its connection went away
                    raise SimulationError.of(
                        f"a simulation task failed on the cluster after {RETRIES} retries: {type(exc).__name__} {exc}",
                        "see the workers' logs; a worker out of memory needs a smaller --block-size or more "
                        "memory; the run can be started again, it gives the same numbers", code="RL954") from None
                if isinstance(value, _Failed):
                    raise value.error
                results[where[fut.key]] = value
                fut.release()
                if len(futures) < len(parts):
                    if done % 16 == 0:  # workers that joined since take tasks too
                        window = max(window, IN_FLIGHT * self.threads())
                    while len(futures) < len(parts) and len(futures) - done < window:
                        pending.add(submit())
                if progress:
                    progress(done, len(parts))
        finally:
            client.cancel([f for f in futures if not f.done()])
            client.cancel([shared])
        return results

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()


_OPEN: dict[str, DaskBackend] = {}


def dask_backend(scheduler: str, workers: int | None = None, *, notify: Callable[[str], None] | None = None) -> DaskBackend:
    """A Dask client of `scheduler` (kept open for the next run of this process): `local` starts a
    LocalCluster of `workers` single-threaded processes (None: all cores) and reports its dashboard
    through `notify`; an address connects to a running scheduler (RL951 when it cannot be reached,
    RL955 when it has no workers) whose workers must run the same versions (RL952)."""
    distributed = import_distributed()
    if scheduler in _OPEN:
        return _OPEN[scheduler]
    notify = notify or (lambda text: print(text, file=sys.stderr))
    import dask

    timeout = dask.config.get("distributed.comm.timeouts.connect")
    cluster = None
    if scheduler == "local":
        import logging

        n = workers or os.cpu_count() or 1
        with dask.config.set({**{f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in WORKER_ENVIRON.items()},
                              **WORKER_CONFIG}):
            cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                               silence_logs=logging.ERROR, dashboard_address=":0")
        link = cluster.dashboard_link if _has_bokeh() else "none (pip install bokeh to see it)"
        notify(f"dask: a LocalCluster of {n} worker process(es) at {cluster.scheduler_address}; dashboard: {link}")
        address = cluster.scheduler_address
    else:
        address = check_address(scheduler)
    try:
        client = distributed.Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        if cluster is not None:
            cluster.close()
        raise SimulationError.of(
            f"cannot reach the Dask scheduler at {scheduler} within {timeout}: {exc}",
            "start it (dask scheduler), check the address and port (default 8786) and the firewall, or wait "
            "longer: DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=60s (docs/cluster.md)", code="RL951") from None
    backend = DaskBackend(client, cluster)
    try:
        _check_workers(backend, scheduler, timeout)
    except BaseException:
        backend.close()
        raise
    if not _OPEN:  # registered after distributed's own exit handlers, so that it runs before them
        atexit.register(close_all)
    _OPEN[scheduler] = backend
    return backend


def _has_bokeh() -> bool:
    try:
        import bokeh  # noqa: F401
    except ImportError:
        return False
    return True


def _check_workers(backend: DaskBackend, scheduler: str, timeout: Any) -> None:
    """RL955 without a worker; RL952 when a worker runs another version of what the numbers depend on."""
    client = backend.client
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (TimeoutError, OSError):
        raise SimulationError.of(f"the Dask scheduler at {scheduler} has no workers (waited {timeout})",
                                 "start workers: dask worker tcp://SCHEDULER:8786 (docs/cluster.md)",
                                 code="RL955") from None
    mine = worker_versions()
    try:
        theirs = client.run(worker_versions)
    except Exception as exc:  # a worker that cannot import the simulator, or cannot unpickle the call
        raise SimulationError.of(
            f"the Dask workers at {scheduler} cannot run the simulator: {type(exc).__name__}: {exc}",
            "install the same version of this package (and numpy) on every worker: pip install "
            '"loyalty-rules[dask]==' + mine["loyalty-rules"] + '"', code="RL952") from None
    wrong = version_mismatches(mine, theirs)
    if wrong:
        more = f" (and {len(wrong) - 5} more)" if len(wrong) > 5 else ""
        raise SimulationError.of(
            "the Dask workers run other versions than this machine: " + "; ".join(wrong[:5]) + more,
            VERSIONS_HINT, code="RL952")


def close_all() -> None:
    """Close the clients (and LocalClusters) this process opened."""
    while _OPEN:
        _, backend = _OPEN.popitem()
        try:
            backend.close()
        except Exception:  # closing at exit: a cluster already gone is not an error
            pass
