"""Padan NIK: probabilistic linkage of agency person records to the SIAK population.

Agencies' NIKs are mistyped, stale, zeroed by Excel or missing; exact NIK joins then miss the
person. This package normalises Indonesian names, trains a Fellegi-Sunter model (Splink on
DuckDB, EM-trained on the data itself), scores each agency record against SIAK and writes the
best candidate with a decision to ``core.padan``. Splink's Spark backend is the scale-out path.
"""
