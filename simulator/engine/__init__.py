"""The vectorized engine: one chunk of customers through the day loop, with and without the program.

Takes: an IR program (planned by `program_plan`) and customer traits. Gives: per-trial integer
metrics of one chunk (`day_loop.ChunkSim`); `interpreter_check` replays recorded customers through
the reference interpreter to check the engine.
"""
