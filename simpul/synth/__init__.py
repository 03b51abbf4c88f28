"""Synthetic, reproducible OKU Timur population and agency data, with injectable defects."""

from simpul.synth.defects import DEFECT_KINDS, inject_defects
from simpul.synth.world import TABLES, World, WorldConfig, generate_world, load_world

__all__ = [
    "DEFECT_KINDS",
    "TABLES",
    "World",
    "WorldConfig",
    "generate_world",
    "inject_defects",
    "load_world",
]
