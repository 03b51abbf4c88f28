"""simpul.console: the one table printer and one-line failure every command group uses."""

from __future__ import annotations

import pytest

from simpul.console import bilingual, fail, table


def test_table_aligns_columns_and_prints_none_empty() -> None:
    rows = [{"pipeline": "siak_penduduk", "loaded": 12, "note": None}, {"pipeline": "oss_izin"}]
    assert table(rows).splitlines() == [
        "pipeline       loaded  note",
        "-------------  ------  ----",
        "siak_penduduk  12          ",
        "oss_izin                   ",
    ]
    assert table(rows, ["loaded"]).splitlines()[2] == "12    "
    assert table([]) == "(no rows)"


def test_fail_is_one_line_on_stderr_with_the_operator_exit_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert fail(bilingual("kunci tidak ada", "no key")) == 2
    out = capsys.readouterr()
    assert out.out == "" and out.err == "simpul: error: kunci tidak ada / no key\n"
