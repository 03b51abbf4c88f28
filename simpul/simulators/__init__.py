"""Agency simulators (SIAK, OSS, ...) serving a synthetic world, with switchable faults."""

from simpul.simulators.faults import FaultConfig

__all__ = ["FaultConfig"]
