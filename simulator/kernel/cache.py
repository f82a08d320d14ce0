"""Where numba keeps the compiled kernel: the user's cache folder, never site-packages.

Takes: the environment (NUMBA_CACHE_DIR if the user set one, else XDG_CACHE_HOME or ~/.cache).
Gives: `setup()`, which points numba's on-disk cache at <cache>/loyalty/numba before numba
compiles anything, and `announce_compile()`, which says once on a terminal that the kernel is
being compiled (the first run on a machine, or after an upgrade).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

_announced = False


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "loyalty" / "numba"


def setup() -> None:
    """Set NUMBA_CACHE_DIR (unless the user chose one) before numba is imported."""
    if "NUMBA_CACHE_DIR" not in os.environ:
        path = cache_dir()
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError:  # a read-only home: numba falls back to its own rules
            return
        os.environ["NUMBA_CACHE_DIR"] = str(path)


def is_cached(func) -> bool:
    """Whether a @njit(cache=True) function already has machine code for a signature in this process
    or on disk (numba loads it from the cache at the first call)."""
    if func.signatures:
        return True
    try:  # numba's index of the saved signatures (empty when the source changed since)
        return bool(func._cache._cache_file._load_index())
    except (AttributeError, OSError, EOFError):
        return False


def announce_compile(*funcs) -> None:
    """Print "compiling the engine kernel (once)..." to stderr on a terminal when one of `funcs` has no
    compiled code yet."""
    global _announced
    if _announced or all(is_cached(f) for f in funcs):
        return
    _announced = True
    if sys.stderr.isatty():
        print("compiling the engine kernel (once)...", file=sys.stderr, flush=True)
