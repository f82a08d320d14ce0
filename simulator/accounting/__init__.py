"""Accounting views of a simulated run.

Takes: a run's per-trial monthly ledger flows (`RunResult.ledger_flows`) and the program.
Gives: the IFRS 15 / ASC 606 contract-liability roll-forward of points as a material right
(`contract_liability`: the method on integer cents; `views`: the `accounting` section of report.json).
docs/accounting.md states the method and its assumptions.
"""
