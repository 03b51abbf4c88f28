"""Kabupaten-scale benchmarks of the hub, and its yardstick: a rule-equivalent DuckDB SQL floor
and a dlt peer (``python -m bench.yardstick``).

``uv run python -m bench`` (or ``make bench``); see ``bench/RESULTS.md``. Benchmarks are not
tests: nothing here asserts a time. Each stage runs in its own Python process (as an Airflow
task would), so its peak RSS is that process's high-water mark and nothing else's.
"""
