"""Monte Carlo trials: chunks in parallel, reproducibly, and their results.

Takes: a program, a population and run settings. Gives: a `RunResult` (`result`) with the range of
outcomes and the Monte Carlo precision of each mean (`stats`), bit-identical for any worker count.
"""
