"""Encryption at rest: with ``SIMPUL_ENCRYPTION_KEY`` set, no NIK is readable in the bytes of
any file the hub wrote under SIMPUL_HOME except the operator's DQ report (by design, see
SECURITY.md), and without the key the warehouse does not open."""

from __future__ import annotations

import duckdb
import pytest

from simpul import atrest, pipeline
from simpul.cli import main
from simpul.config import ConfigError
from simpul.warehouse import open_warehouse
from simpul.warehouse.marts import build_marts
from tests.connectors.test_dinsos import HEADER, row

PSEUDONYM_KEY = "encryption-test-pseudonym-key-0123456789"
ENCRYPTION_KEY = "encryption-test-at-rest-key-abcdefghijklmnop"
NIKS = [row(i).split(";")[0] for i in range(1, 13)]


def _run_pipeline(home) -> None:
    drop = home / "drops" / "dinsos"
    drop.mkdir(parents=True)
    lines = [HEADER, *(row(i) for i in range(1, 12)), row(12, PROGRAM="ZZZ")]
    (drop / "bantuan.csv").write_text("\n".join(lines))
    result = pipeline.run("dinsos_penerima_bantuan")
    assert result["rows_loaded"] + result["rows_quarantined"] >= 11, result
    wh = open_warehouse()
    try:
        build_marts(wh)  # marts and the analyst database
        assert wh.scalar("select count(*) from core.penerima_bantuan") == 11
    finally:
        wh.dispose()


def _files_with_nik(home) -> list[str]:
    drop = home / "drops"
    out = []
    for p in home.rglob("*"):
        if not p.is_file() or drop in p.parents:
            continue
        data = p.read_bytes()
        if any(nik.encode() in data for nik in NIKS):
            out.append(str(p.relative_to(home)))
    return sorted(out)


@pytest.fixture
def keys(simpul_home, monkeypatch):
    monkeypatch.setenv("SIMPUL_PSEUDONYM_KEY", PSEUDONYM_KEY)
    monkeypatch.setenv(atrest.KEY_ENV, ENCRYPTION_KEY)
    return simpul_home


def test_no_nik_in_the_bytes_of_any_file_the_hub_wrote(keys, monkeypatch):
    home = keys
    _run_pipeline(home)
    landed = list((home / "landing").rglob("*.parquet"))
    staged = list((home / "staging").rglob("*.parquet"))
    assert landed and staged
    assert all(atrest.is_encrypted_parquet(p) for p in landed + staged)
    assert (home / "warehouse.duckdb").exists() and (home / "analyst.duckdb").exists()
    # the operator's DQ report names the rejected rows' NIKs by design (SECURITY.md)
    assert [p for p in _files_with_nik(home) if not p.startswith("reports/")] == []

    # the operator path reads the encrypted warehouse (read-only, locked down)
    from simpul.warehouse.analyst import run_operator

    result = run_operator("select count(*) from core.penerima_bantuan", "op-test")
    assert result.rows == [(11,)]

    # without the key: the warehouse does not open, landed files do not read
    monkeypatch.delenv(atrest.KEY_ENV)
    with pytest.raises(duckdb.Error, match="encrypted"):
        duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    with pytest.raises(Exception, match="encrypted"):
        open_warehouse(wait=0)
    with pytest.raises(ConfigError, match="SIMPUL_ENCRYPTION_KEY"):
        atrest.read_table(landed[0])
    # a wrong key does not open it either
    monkeypatch.setenv(atrest.KEY_ENV, "another-key-of-sufficient-length-0123456789")
    with pytest.raises(Exception):  # noqa: B017 - DuckDB's wrong-key error type varies
        open_warehouse(wait=0)


def test_without_a_key_the_files_are_plain_and_doctor_warns(simpul_home, monkeypatch, capsys):
    """The control: the same run without a key leaves NIKs readable (so the test above
    measures encryption, not compression), and doctor warns."""
    monkeypatch.setenv("SIMPUL_PSEUDONYM_KEY", PSEUDONYM_KEY)
    monkeypatch.delenv(atrest.KEY_ENV, raising=False)
    _run_pipeline(simpul_home)
    plain = _files_with_nik(simpul_home)
    assert any(p.startswith("landing/") for p in plain), plain
    assert "warehouse.duckdb" in plain
    main(["doctor"])
    out = capsys.readouterr().out
    assert "no encryption key configured" in out and "kunci enkripsi belum diatur" in out


def test_short_or_exposed_key_is_refused(simpul_home, monkeypatch):
    monkeypatch.setenv(atrest.KEY_ENV, "short")
    with pytest.raises(ConfigError, match="32"):
        atrest.encryption_key()
    monkeypatch.delenv(atrest.KEY_ENV)
    path, created = atrest.generate_key_file()
    assert created and oct(path.stat().st_mode & 0o777) == "0o600"
    assert atrest.encryption_key() == path.read_text().strip()
    path.chmod(0o644)
    with pytest.raises(ConfigError):
        atrest.encryption_key()
