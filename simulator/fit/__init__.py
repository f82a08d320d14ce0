"""`loyalty fit`: a population fitted to a business's own transactions.

Takes: transaction files. Gives: a population file and customers file (`population_file`) and a fit
report (`report`, `charts`, `checks`); the statistics are in `models`.
"""
