"""Exchange exceptions; messages are operator-readable and never carry record values.

Three kinds matter to the scheduler: a configuration error (:class:`ExchangeConfigError`,
an :class:`AgreementError`) fails the task at once, since retrying cannot fix it; a channel
error (:class:`ChannelUnavailable`) is transient and retried with backoff while the delivery
waits in the outbox; :class:`NotReady` and :class:`Unchanged` mean there is deliberately
nothing to send this time.
"""

from __future__ import annotations

from simpul.config import ConfigError
from simpul.console import bilingual


class AgreementError(ConfigError):
    """``exchange/agreements.yaml`` is invalid: the message names the file and the key."""


class ExchangeError(Exception):
    """A delivery could not be prepared or sent (the outbox keeps it for a retry)."""


class ExchangeConfigError(AgreementError, ExchangeError):
    """A setting is missing (token, signing key, URL): fix the setting, do not retry."""


class ChannelUnavailable(ExchangeError):
    """The channel is down or refused the delivery for now: retried with backoff."""


class VerificationError(ExchangeError):
    """A delivery's manifest, signature or files do not verify: it must not be trusted."""


class NotReady(ExchangeError):
    """The dataset must not be delivered now (inputs not loaded, or a result held for review).

    ``review``: a person must look at it (an alert is sent); otherwise it simply waits for the
    next cycle."""

    def __init__(self, reason_id: str, reason_en: str, *, review: bool = False) -> None:
        super().__init__(bilingual(reason_id, reason_en))
        self.reason_id = reason_id
        self.reason_en = reason_en
        self.review = review


class Unchanged(ExchangeError):
    """The content equals the last delivery to this agency (or the pending one): not sent."""

    def __init__(self, message: str, delivery_id: str | None) -> None:
        super().__init__(message)
        self.delivery_id = delivery_id
