"""Pseudonyms that hold: the public demo key is refused outside the demo, an install gets its
own random key in an owner-only file, and a pseudonym cannot be reversed by enumerating the NIK
space of a kecamatan (birth dates x sex x serials) without the key."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from datetime import date, timedelta

import pytest

from simpul.cli import main
from simpul.config import ConfigError
from simpul.warehouse import pseudonym as pz

KECAMATAN = "160801"


@pytest.fixture(autouse=True)
def _no_key(simpul_home, monkeypatch):
    monkeypatch.delenv(pz.KEY_ENV, raising=False)
    monkeypatch.delenv(pz.KEY_FILE_ENV, raising=False)
    monkeypatch.setattr(pz, "_demo_allowed", False)


def _candidates(year: int, serials: int) -> list[str]:
    """Every NIK of the kecamatan born in ``year`` (both sexes), serials 0001..serials."""
    out = []
    d = date(year, 1, 1)
    while d.year == year:
        for plus in (0, 40):
            prefix = f"{KECAMATAN}{d.day + plus:02d}{d.month:02d}{d.year % 100:02d}"
            out.extend(f"{prefix}{s:04d}" for s in range(1, serials + 1))
        d += timedelta(days=1)
    return out


def _attack(pseudonym: str, guesses: list[bytes]) -> bool:
    """Try the public keys an attacker knows (and no key at all) over the whole space."""
    for nik in _candidates(1990, 20):
        msg = f"nik:{nik}".encode()
        if hashlib.sha256(msg).hexdigest() == pseudonym:
            return True
        for key in guesses:
            if hmac.new(key, msg, hashlib.sha256).hexdigest() == pseudonym:
                return True
    return False


def test_demo_key_is_refused_outside_the_demo(monkeypatch):
    monkeypatch.setenv(pz.KEY_ENV, pz.DEMO_KEY)
    with pytest.raises(ConfigError, match="demo"):
        pz.pseudonym_key()
    pz.allow_demo_key()  # what `simpul demo` does, in its own process only
    assert pz.pseudonym_key() == pz.DEMO_KEY.encode()


def test_keys_init_writes_an_owner_only_random_key_and_says_where(simpul_home, capsys):
    old = os.umask(0o022)  # the usual umask: the key must not follow it
    try:
        assert main(["keys", "init"]) == 0
    finally:
        os.umask(old)
    path = simpul_home / "keys" / "pseudonym.key"
    assert str(path) in capsys.readouterr().out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    key = pz.pseudonym_key()  # found without any environment variable
    assert len(key) >= 48 and key != pz.DEMO_KEY.encode()
    assert main(["keys", "init"]) == 0 and pz.pseudonym_key() == key  # never overwritten


def test_a_key_file_others_can_read_is_refused(simpul_home):
    path, _ = pz.generate_key_file()
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        pz.pseudonym_key()


def test_brute_force_over_a_kecamatan_finds_the_demo_pseudonym_but_not_a_real_one():
    nik = f"{KECAMATAN}{17 + 40:02d}0890{13:04d}"  # a woman born 17-08-1990, serial 13
    public = [pz.DEMO_KEY.encode(), pz._DEVELOPMENT_KEY]
    # the attack works: with the public demo key the NIK comes back
    assert _attack(pz.pseudonymise(nik, pz.DEMO_KEY.encode()), public)
    # a per-install key: the same enumeration (14,600 NIKs x 3 guesses) finds nothing
    path, _ = pz.generate_key_file()
    assert not _attack(pz.pseudonymise(nik, pz.pseudonym_key()), public)
