"""`python -m rulelang ...`: the same command line as `loyalty ...` (see rulelang.cli)."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())
