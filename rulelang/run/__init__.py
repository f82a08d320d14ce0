"""The reference interpreter: the definition of what a compiled program does to one customer.

Takes: an IR `Program` and one customer's events. Gives: a `Result` with the ledger, tier history and
the trace of what fired (`interpreter.run`; earning, conditions, ledger and calendar are its steps).
"""
