"""The CLI prints operator errors as one clear line, never a stack trace."""

from __future__ import annotations

from simpul.cli import main


def test_sql_answers_and_bad_sql_is_a_clean_error(simpul_home, capsys):
    assert main(["sql", "select count(*) as n from ref.wilayah"]) == 0
    assert main(["sql", "select nope from nowhere"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("simpul: error:") and "Traceback" not in err


def test_unknown_pipeline_names_the_known_ones(simpul_home, capsys):
    assert main(["run", "no_such_pipeline"]) == 2
    assert "siak_penduduk" in capsys.readouterr().err


def test_missing_secret_names_the_env_var(simpul_home, capsys, monkeypatch):
    monkeypatch.delenv("SIMPUL_SIAK_CLIENT_ID", raising=False)
    assert main(["run", "siak_penduduk"]) == 2
    err = capsys.readouterr().err
    assert "SIMPUL_SIAK_CLIENT_ID" in err and "rahasia" in err


def test_status_on_an_empty_warehouse(simpul_home, capsys):
    assert main(["status"]) == 0
    assert "Last loads" in capsys.readouterr().out


def test_broken_config_is_reported_with_file_and_key(simpul_home, tmp_path, monkeypatch, capsys):
    bad = tmp_path / "simpul.yaml"
    bad.write_text("sources: {}\npipelines:\n  x: {source: nope, stream: s}\n")
    monkeypatch.setenv("SIMPUL_CONFIG", str(bad))
    assert main(["run", "x"]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "pipelines.x" in err


def test_data_docs_of_an_unknown_delivery_is_a_clean_error(simpul_home, capsys):
    assert main(["data-docs", "no-such-load"]) == 1
    assert "no validation result" in capsys.readouterr().out
