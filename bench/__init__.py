"""Kabupaten-scale benchmarks of the hub against a plain pandas/pyarrow baseline.

``uv run python -m bench`` (or ``make bench``); see ``bench/RESULTS.md``. Benchmarks are not
tests: nothing here asserts a time. Each stage runs in its own Python process (as an Airflow
task would), so its peak RSS is that process's high-water mark and nothing else's.
"""
