"""Interned strings: categories, channels, tiers and other names as small integer codes.

Takes: strings. Gives: `StringTable`, the codes the engine's arrays hold and the names back.
"""

from __future__ import annotations


class StringTable:
    """Interns strings to small integer codes (code 0 is the empty string)."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {"": 0}
        self.names: list[str] = [""]

    def code(self, s: str) -> int:
        c = self.codes.get(s)
        if c is None:
            c = len(self.names)
            self.codes[s] = c
            self.names.append(s)
        return c

    def name(self, code: int) -> str:
        return self.names[int(code)]
