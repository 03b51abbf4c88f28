"""Hostile and careless drops through the CLI (issue 14's cases that are not single files):
a symlink to a secret, a symlink to another folder, a file copied with its old mtime, a lock
file of an open workbook. Each is handled without a traceback and without echoing content."""

from __future__ import annotations

import logging
import os

from simpul.cli import main
from simpul.warehouse import open_warehouse

from .corpus.make import ROWS, csv_bytes

SECRET = "SIMPUL_SIAK_CLIENT_SECRET=hunter2-do-not-echo"


def test_symlinks_to_a_secret_and_to_another_folder_are_refused(simpul_home, capsys, caplog):
    drop = simpul_home / "drops" / "dinsos"
    drop.mkdir(parents=True)
    outside = simpul_home / "elsewhere"
    outside.mkdir()
    (outside / ".env").write_text(SECRET + "\n")
    (outside / "lain.csv").write_bytes(csv_bytes(ROWS))
    (drop / "env.csv").symlink_to(outside / ".env")
    (drop / "lain.csv").symlink_to(outside / "lain.csv")
    (drop / "folder.csv").symlink_to(outside, target_is_directory=True)
    (drop / "baik.csv").write_bytes(csv_bytes(ROWS[:1]))
    caplog.set_level(logging.DEBUG)
    assert main(["run", "dinsos_penerima_bantuan"]) == 4
    captured = capsys.readouterr()
    everything = captured.out + captured.err + caplog.text
    assert "hunter2" not in everything and "Traceback" not in everything
    assert "env.csv" in captured.out and "symbolic link" in captured.out
    wh = open_warehouse()
    try:
        assert wh.scalar("select count(*) from raw.dinsos_penerima_bantuan") == 1
    finally:
        wh.dispose()


def test_cp_p_copies_and_office_lock_files(simpul_home, capsys):
    drop = simpul_home / "drops" / "dinsos"
    drop.mkdir(parents=True)
    (drop / "pertama.csv").write_bytes(csv_bytes(ROWS[:1]))
    assert main(["run", "dinsos_penerima_bantuan"]) == 0
    late = drop / "dari_flashdisk.csv"
    late.write_bytes(csv_bytes(ROWS[1:]))
    os.utime(late, (946_684_800, 946_684_800))  # 2000-01-01: older than every load
    (drop / "~$dari_flashdisk.csv").write_bytes(b"\x00lock")
    assert main(["run", "dinsos_penerima_bantuan"]) == 0
    out = capsys.readouterr().out
    assert "Traceback" not in out
    wh = open_warehouse()
    try:
        assert wh.scalar("select count(*) from raw.dinsos_penerima_bantuan") == 3
        names = {r["name"] for r in wh.query("select name from ops.files")}
    finally:
        wh.dispose()
    assert "~$dari_flashdisk.csv" not in names
