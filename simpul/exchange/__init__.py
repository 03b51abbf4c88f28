"""Exchange: deliver synced datasets to agencies, entitled, signed, receipted and resumable.

Agreements (``exchange/agreements.yaml``) say who may receive which columns of which dataset,
for what purpose and under which legal basis; everything else is denied. Each delivery is
written to the outbox, signed (Ed25519), sent through the agency's channel (drop folder, REST,
CKAN), receipted and logged append-only, with a per-person disclosure index under the NIK
pseudonym. See docs/exchange.md.
"""

from simpul.exchange.errors import AgreementError, ExchangeError, VerificationError

__all__ = ["AgreementError", "ExchangeError", "VerificationError"]
