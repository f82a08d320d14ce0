"""What this machine offers a run: memory available to new work.

Takes: nothing (reads /proc/meminfo or sysconf). Gives: `available_memory()` in bytes, None when unknown.
"""

from __future__ import annotations

import os


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
