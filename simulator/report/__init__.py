"""Reports of a simulation: Markdown, HTML with charts, JSON and the terminal, written atomically.

Takes: a `RunResult`. Gives: report files (`pages`, `charts`) through `outputs`.
"""
