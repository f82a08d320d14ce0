"""What-if commands: compare, sweep, sensitivity and plan, on common random numbers.

Takes: programs, a population and guardrails. Gives: paired differences, grids, tornados and plans,
with their reports (`report`) and the shared runner (`runner`).
"""
