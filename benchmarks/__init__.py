"""Benchmarks of the verification harness: `python -m benchmarks` (= `make benchmark`).

Every figure is a ratio of two runs taken in the same invocation on the same machine; results go to
benchmarks/results/latest.md and latest.json.
"""
