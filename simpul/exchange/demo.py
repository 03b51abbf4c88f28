"""The exchange part of ``simpul demo``: deliver every agreement to local stand-in agencies.

Call :func:`run_exchange_demo` after the marts are built while the CKAN simulator still runs
(its ``SIMPUL_CKAN_URL`` / ``SIMPUL_CKAN_TOKEN`` in the environment). Disdukcapil is a local
REST receiver, Dinas Sosial and the villages read drop folders under SIMPUL_HOME/exchange/; the
receiving side verifies each delivery and writes its receipt, which the hub then logs.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
DEMO_TOKEN = "simpul-demo-disdukcapil-token"


def run_exchange_demo(wh: Any) -> list[dict[str, Any]]:
    """Deliver everything once; returns one summary row per delivery (no personal data)."""
    from simpul.config import home
    from simpul.exchange.agreements import FolderChannel, load_agreements
    from simpul.exchange.receiver import RestReceiver
    from simpul.exchange.service import collect_receipts, run
    from simpul.exchange.signing import ensure_demo_key, load_signing_key, public_key_b64
    from simpul.exchange.store import ensure_exchange_schema

    key_path = ensure_demo_key(home())
    if key_path and str(key_path).startswith(str(home())):
        print(
            f"Note: demo exchange signing key {key_path}; set SIMPUL_EXCHANGE_SIGNING_KEY "
            "in production."
        )
    public = public_key_b64(load_signing_key().public_key())
    ensure_exchange_schema(wh)
    agreements = load_agreements()
    agency_keys = _agency_keys(home(), agreements)
    for a in agreements.agreements.values():
        # the demo's stand-in agencies "mount" their drop shares; the hub never creates them
        if isinstance(a.channel, FolderChannel) and "://" not in a.channel.resolved_url():
            Path(a.channel.resolved_url()).mkdir(parents=True, exist_ok=True)
    with RestReceiver(
        public,
        token=DEMO_TOKEN,
        name="disdukcapil-demo",
        addressee="disdukcapil",
        key=agency_keys.get("disdukcapil"),
    ) as receiver:
        for name, value in (
            ("SIMPUL_EXCHANGE_DISDUKCAPIL_URL", receiver.url),
            ("SIMPUL_EXCHANGE_DISDUKCAPIL_TOKEN", DEMO_TOKEN),
        ):
            if not os.environ.get(name):
                os.environ[name] = value
        result = run(wh, agreements)
    _receive_folders(agreements, public, agency_keys)
    collect_receipts(wh, agreements)
    return _current_deliveries(wh, {q["delivery_id"] for q in result["queued"]})


def _receive_folders(agreements: Any, public: str, agency_keys: dict[str, Any]) -> None:
    """The stand-in agencies process their drop folders (each village its own sub-folder)."""
    from simpul.exchange.agreements import FolderChannel
    from simpul.exchange.receiver import process_drop_folder

    for a in agreements.agreements.values():
        if not isinstance(a.channel, FolderChannel):
            continue
        root = Path(a.channel.resolved_url())
        if not root.is_dir():
            continue
        if not any(g.partition_by for g in a.datasets.values()):
            process_drop_folder(
                root, public, f"{a.agency}-demo", addressee=a.agency, key=agency_keys.get(a.agency)
            )
            continue
        for sub in sorted(p for p in root.iterdir() if p.is_dir()):
            if sub.name[0] not in "._":  # each village processes its own folder
                process_drop_folder(
                    sub,
                    public,
                    f"{a.agency}-{sub.name}-demo",
                    addressee=f"{a.agency}/{sub.name}",
                    key=agency_keys.get(a.agency),
                )


def _current_deliveries(wh: Any, new_ids: set[str]) -> list[dict[str, Any]]:
    """One row per recipient and dataset: its current delivery, and whether this run made it."""
    from simpul.exchange.outbox import DEAD
    from simpul.exchange.store import outbox

    latest: dict[tuple[str, str, str | None], dict[str, Any]] = {}
    for r in outbox(wh):  # newest first: the current delivery of each recipient and dataset
        if r["status"] not in DEAD:
            latest.setdefault((r["agreement"], r["dataset"], r["part"]), r)
    return [
        {
            "agency": r["agency"] + (f"/{r['part']}" if r["part"] else ""),
            "dataset": r["dataset"],
            "channel": r["channel"],
            "rows": r["rows"],
            "status": r["status"],
            "this_run": "new" if r["delivery_id"] in new_ids else "unchanged",
        }
        for r in sorted(latest.values(), key=lambda r: (r["agency"], r["dataset"], r["part"] or ""))
    ]


def _agency_keys(home: Path, agreements: Any) -> dict[str, Any]:
    """Demo only: each stand-in agency gets its own receipt key pair under SIMPUL_HOME/keys,
    and its public key is "registered" through the agreement's ``receipt_key_env``."""
    from simpul.exchange.signing import generate_key_file, load_private_key_file, public_key_b64

    keys: dict[str, Any] = {}
    for a in agreements.agreements.values():
        if not a.receipt_key_env or a.agency in keys:
            continue
        path = home / "keys" / f"agency_{a.agency}_ed25519.key"
        if not path.exists():
            generate_key_file(path)
        keys[a.agency] = load_private_key_file(path)
    for a in agreements.agreements.values():
        if a.receipt_key_env and a.agency in keys and not os.environ.get(a.receipt_key_env):
            os.environ[a.receipt_key_env] = public_key_b64(keys[a.agency].public_key())
    return keys
