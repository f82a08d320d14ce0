"""The customer model: who the simulated customers are and how they behave.

Takes: population files (`population`, defaults in `populations/`), customers files of an existing
base. Gives: a `Population`, the latent traits of each RNG block of customers (`draws`,
`history_traits`), synthetic transactions (`synthetic`) and warnings when a population does not fit a
program (`fit_warnings`).
"""
