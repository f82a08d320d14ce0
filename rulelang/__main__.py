"""`python -m rulelang ...`: the same command line as `loyalty ...` (see rulelang.tools.cli)."""

from __future__ import annotations

from rulelang.tools.cli import main

raise SystemExit(main())
