"""Which programs of the differential test the engine kernel runs (tests/simulator/test_kernel.py
checks this list against `simulator.kernel.kernel_supports`, so coverage cannot shrink unnoticed)."""

# every construct the kernel lacks, per program it does not run (the others run on the kernel)
NUMPY_ONLY: dict[str, list[str]] = {}
