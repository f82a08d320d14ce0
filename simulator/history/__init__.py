"""`loyalty replay`: a program over the recorded history, without a behaviour model.

Takes: a program and a transaction file. Gives: the history as the engine's feed (`feed`), its run
(`replay_engine`), a check against the reference interpreter (`check`) and the report (`report`).
"""
