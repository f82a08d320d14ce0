"""Which programs of the differential test the engine kernel runs (tests/simulator/test_kernel.py
checks this list against `simulator.kernel.kernel_supports`, so coverage cannot shrink unnoticed)."""

# every construct the kernel lacks, per program it does not run (the others run on the kernel)
NUMPY_ONLY = {
    "tests/simulator/fixtures/status.loyalty": ["tier status dates (`status through`)",
                                                "`activity` for an inactivity expiry"],
    "tests/simulator/fixtures/status_step.loyalty": ["tier status dates (`status through`)",
                                                     "`activity` for an inactivity expiry"],
}
