"""Exchange exceptions; messages are operator-readable and never carry record values."""

from __future__ import annotations

from simpul.config import ConfigError


class AgreementError(ConfigError):
    """``exchange/agreements.yaml`` is invalid: the message names the file and the key."""


class ExchangeError(Exception):
    """A delivery could not be prepared or sent (the outbox keeps it for a retry)."""


class VerificationError(ExchangeError):
    """A delivery's manifest, signature or files do not verify: it must not be trusted."""
