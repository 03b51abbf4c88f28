"""``simpul simulate``: generate a synthetic world and run the agency simulators locally.

Wired into ``simpul/cli.py`` through ``add_parser(subparsers)``. Output never carries NIKs or
names: only counts, URLs and the (demo) credential variables.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path


def _world_dir(value: str | None) -> Path:
    if value:
        return Path(value)
    from simpul.config import paths

    return paths().world


def cmd_generate(args: argparse.Namespace) -> int:
    from simpul.synth import WorldConfig, generate_world

    kec: tuple[str, ...] | None = tuple(args.kecamatan) if args.kecamatan else ("16.08.01",)
    if args.all_kecamatan:
        kec = None
    cfg = WorldConfig(seed=args.seed, kecamatan=kec, population=args.population)
    started = time.monotonic()
    world = generate_world(cfg)
    out = world.write(_world_dir(args.out))
    print(f"world written to {out} in {time.monotonic() - started:.1f}s (seed {args.seed})")
    for name, n in world.counts.items():
        print(f"  {name:<20} {n:>9,}")
    return 0


def _home_dir(value: str | None) -> Path:
    if value:
        return Path(value)
    from simpul.config import home

    return home()


def _write_drops(
    args: argparse.Namespace, world: Path, *, siak_export: bool = False
) -> dict[str, str]:
    """Write the file drops (with ``siak_export`` also SIAK's export workbook, which the
    siak_export_penduduk pipeline reads); prints counts only (the files hold personal data)."""
    from simpul.simulators.runner import prepare_drops

    started = time.monotonic()
    drops = prepare_drops(
        world,
        _home_dir(args.home),
        args.defect_rate,
        args.seed,
        kecamatan=getattr(args, "kecamatan", None),
        siak_export=siak_export,
    )
    print(
        f"File drops written in {time.monotonic() - started:.1f}s: "
        f"{len(drops.opensid_files)} OpenSID workbooks in {drops.opensid_dir}, "
        f"Dinas Sosial CSV in {drops.dinsos_dir}"
    )
    if drops.siak_export_file:
        print(f"  SIAK 37-column export in {drops.siak_export_file.parent}")
    return drops.env()


def _ensure_world(world: Path, seed: int) -> bool:
    """A missing default world is generated (seeded Martapura, as the demo does)."""
    if (world / "world.json").exists():
        return True
    from simpul.config import paths

    if world.resolve() != paths().world.resolve():
        print(f"no world in {world}: run `simpul simulate generate --out {world}` first")
        return False
    from simpul.synth import WorldConfig, generate_world

    started = time.monotonic()
    generate_world(WorldConfig(seed=seed)).write(world)
    print(f"Synthetic Martapura generated in {world} ({time.monotonic() - started:.1f}s)")
    return True


def cmd_drops(args: argparse.Namespace) -> int:
    world = _world_dir(args.world)
    if not _ensure_world(world, args.seed):
        return 2
    env = _write_drops(args, world)
    if args.siak_export:
        from simpul.simulators.siak_export import write_siak_export

        out = write_siak_export(
            world,
            args.siak_export,
            defect_rate=args.defect_rate,
            seed=args.seed,
            kecamatan=args.kecamatan,
        )
        print(f"SIAK 37-column export written to {out}")
    print("\nFor the hub:")
    for k, v in env.items():
        print(f"  export {k}={v}")
    if args.defect_rate:
        print(f"\nGround truth in {world / 'ground_truth'}")
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from simpul.simulators.runner import DEMO_CREDENTIALS, serve_all

    world = _world_dir(args.world)
    if not _ensure_world(world, args.seed):
        return 2
    only = [s.strip() for s in args.only.split(",")] if args.only else None
    drop_env = {} if args.no_drops else _write_drops(args, world, siak_export=True)
    handles = serve_all(
        world,
        host=args.host,
        base_port=args.base_port,
        only=only,
        defect_rate=args.defect_rate,
        seed=args.seed,
        home_dir=_home_dir(args.home),
    )
    everyone = args.exchange_receivers
    receiver = _disdukcapil_receiver(args) if args.disdukcapil_receiver or everyone else None
    drops = _drop_receivers(args) if everyone else None
    try:
        print("Simulators running (Ctrl-C stops):")
        for name, h in handles.items():
            print(f"  {name:<8} {h.url}")
        print("\nFor the hub:")
        env = dict(drop_env)
        for h in handles.values():
            env.update(h.env())
        if receiver is not None:
            env.update(receiver[1])
        for k, v in env.items():
            print(f"  export {k}={v}")
        print("\nSimulator credentials come from (demo defaults shown):")
        for k, v in DEMO_CREDENTIALS.items():
            print(f"  {k}={v}")
        if args.defect_rate:
            print(
                f"\nDefects injected at rate {args.defect_rate}; ground truth in "
                f"{world / 'ground_truth'}"
            )
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nstopping")
    finally:
        for h in handles.values():
            h.stop()
        if receiver is not None:
            receiver[0].stop()
        if drops is not None:
            drops.stop()
    return 0


def _hub_public_key(args: argparse.Namespace):
    """The hub's public key: from its signing key in this environment, else the demo key file
    in SIMPUL_HOME/keys that `make airflow` uses too (made here if this side starts first)."""
    from simpul.exchange.signing import ensure_demo_key, load_signing_key

    ensure_demo_key(_home_dir(args.home))
    return load_signing_key().public_key()


def _disdukcapil_receiver(args: argparse.Namespace):
    """Disdukcapil's delivery endpoint for the exchange demo: verifies pushed deliveries with the
    hub's public key and answers with receipts signed by Disdukcapil's demo key (its public key
    is what the hub registers in SIMPUL_EXCHANGE_DISDUKCAPIL_RECEIPT_KEY). Without a usable
    signing key it is skipped with a notice, the simulators still run."""
    from simpul.exchange.agreements import load_agreements
    from simpul.exchange.demo_agencies import ensure_agency_keys
    from simpul.exchange.errors import ExchangeError
    from simpul.exchange.receiver import RestReceiver
    from simpul.exchange.signing import load_private_key_file
    from simpul.simulators.runner import PORT_OFFSETS, credential

    try:
        public = _hub_public_key(args)
        keys = ensure_agency_keys(_home_dir(args.home), load_agreements())
        key = load_private_key_file(keys["disdukcapil"]) if "disdukcapil" in keys else None
    except ExchangeError as exc:
        print(f"Disdukcapil receiver skipped: {exc}")
        return None
    port = args.base_port + PORT_OFFSETS["disdukcapil"] if args.base_port else 0
    token = credential("SIMPUL_SIM_DISDUKCAPIL_TOKEN")
    receiver = RestReceiver(
        public,
        token=token,
        name="disdukcapil-simulator",
        host=args.host,
        port=port,
        addressee="disdukcapil",
        key=key,
    ).start()
    print(f"  {'disdukcapil':<8} {receiver.url}")
    return receiver, {
        "SIMPUL_EXCHANGE_DISDUKCAPIL_URL": receiver.url,
        "SIMPUL_EXCHANGE_DISDUKCAPIL_TOKEN": token,
    }


def _drop_receivers(args: argparse.Namespace):
    """Dinas Sosial and the villages: receipt new deliveries in their drop folders."""
    from simpul.exchange.agreements import load_agreements
    from simpul.exchange.demo_agencies import DropReceivers
    from simpul.exchange.errors import ExchangeError

    if args.home:  # the agreements' drop folders resolve under SIMPUL_HOME: the same place
        os.environ["SIMPUL_HOME"] = str(Path(args.home).resolve())
    try:
        drops = DropReceivers(_hub_public_key(args), _home_dir(args.home), load_agreements())
    except ExchangeError as exc:
        print(f"Drop-folder receivers skipped: {exc}")
        return None
    for folder in drops.folders:
        print(f"  {'receipts':<8} {folder} (every {drops.interval:.0f}s)")
    return drops.start()


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``simulate {generate,up,drops}`` to the ``simpul`` command line."""
    p = subparsers.add_parser("simulate", help="synthetic world and agency simulators")
    sub = p.add_subparsers(dest="simulate_command", required=True)

    g = sub.add_parser("generate", help="generate a seeded synthetic world (parquet)")
    g.add_argument("--out", help="output folder (default: SIMPUL_HOME world folder)")
    g.add_argument("--seed", type=int, default=42)
    g.add_argument(
        "--population",
        type=int,
        default=None,
        help="total people (default: realistic size, Martapura ~64,000)",
    )
    g.add_argument("--kecamatan", nargs="+", help="Kemendagri codes, default 16.08.01")
    g.add_argument("--all-kecamatan", action="store_true", help="all 20 of OKU Timur")
    g.set_defaults(func=cmd_generate)

    u = sub.add_parser("up", help="serve the simulators until Ctrl-C")
    _world_options(u, "data folder for drops and CKAN state (default SIMPUL_HOME)")
    u.add_argument("--only", help="comma-separated subset, e.g. siak,oss")
    u.add_argument("--host", default="127.0.0.1")
    u.add_argument("--base-port", type=int, default=8710)
    u.add_argument("--no-drops", action="store_true", help="do not (re)write the file drops")
    u.add_argument(
        "--disdukcapil-receiver",
        action="store_true",
        help="also run Disdukcapil's exchange endpoint (needs the hub's signing key)",
    )
    u.add_argument(
        "--exchange-receivers",
        action="store_true",
        help="all demo agencies: Disdukcapil's endpoint plus receipts for the drop folders "
        "(Dinas Sosial, villages), signed with demo agency keys in SIMPUL_HOME/keys",
    )
    u.set_defaults(func=cmd_up)

    d = sub.add_parser("drops", help="write OpenSID workbooks and the Dinas Sosial CSV")
    _world_options(d, "data folder; drops go to <home>/drops (default SIMPUL_HOME)")
    d.add_argument("--kecamatan", help="only this kecamatan, e.g. 16.08.01 (default: all)")
    d.add_argument("--siak-export", metavar="PATH", help="also write SIAK's 37-column xlsx")
    d.set_defaults(func=cmd_drops)
    return p


def _world_options(parser: argparse.ArgumentParser, home_help: str) -> None:
    """The options every command serving a world shares: which world, where, how defective."""
    parser.add_argument("--world", help="world folder (default: SIMPUL_HOME world folder)")
    parser.add_argument("--home", help=home_help)
    parser.add_argument("--defect-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=42)
