"""Landing, staging and reports in S3-compatible object storage (moto's real HTTP server).

The SIAK pipeline runs against the simulator with every hand-off through the bucket: each stage
starts with an empty local working copy, as a Celery worker on another host would.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.served import siak_served

PIPE = "siak_penduduk"


@pytest.fixture(scope="module")
def siak(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    with siak_served(
        tmp_path_factory.mktemp("world"), seed=7, population=300, defect_rate=0.03
    ) as served:
        yield served


@pytest.fixture
def shared(siak, simpul_home: Path, s3_env: str, monkeypatch: pytest.MonkeyPatch) -> dict:
    for k, v in siak["handle"].env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("SIMPUL_PSEUDONYM_KEY", "test-pseudonym-key-0123456789abcdef")
    for area in ("landing", "staging", "reports", "outbox"):
        monkeypatch.setenv(f"SIMPUL_{area.upper()}_URL", f"{s3_env}/{area}")
    from simpul.storage import filesystem

    fs, _ = filesystem(s3_env)
    return {"bucket": s3_env.removeprefix("s3://"), "fs": fs, "home": simpul_home}


def _other_host(home: Path) -> None:
    """Forget every local working copy: the next stage runs as on a fresh worker host."""
    shutil.rmtree(home / "cache", ignore_errors=True)


def _core(wh) -> list[tuple]:
    return [tuple(r.values()) for r in wh.query("select * from core.penduduk order by 1")]


def test_pipeline_hands_off_through_object_storage(shared):
    from simpul import pipeline
    from simpul.config import paths
    from simpul.warehouse import open_warehouse

    fs, bucket, home = shared["fs"], shared["bucket"], shared["home"]
    assert paths().landing == home / "cache" / "landing"

    ex = pipeline.extract(PIPE)
    load_id = ex["load_id"]
    delivery = f"{bucket}/landing/siak/penduduk/{load_id}"
    assert fs.exists(f"{delivery}/_manifest.json") and fs.exists(f"{delivery}/data.parquet")
    sealed = json.loads(fs.cat_file(f"{delivery}/_manifest.json"))
    assert sealed["row_count"] == ex["rows"] > 0
    assert not (home / "landing").exists()  # nothing outside the working copy

    _other_host(home)
    tr = pipeline.transform(PIPE, load_id)
    assert fs.exists(f"{bucket}/staging/{load_id}/summary.json")
    assert fs.exists(f"{bucket}/staging/{load_id}/mapped.parquet")
    report = f"{bucket}/reports/{load_id}/laporan_mutu_data.html"
    assert fs.exists(report) and fs.exists(f"{bucket}/reports/{load_id}/laporan_mutu_data.csv")
    assert tr["reports"]["html"] == f"s3://{report}"
    assert "testing-secret" not in json.dumps(tr)

    _other_host(home)
    ld = pipeline.load(PIPE, load_id)
    assert ld["status"] == "loaded"
    assert ld["rows_loaded"] + ld["rows_quarantined"] + ld["rows_duplicate"] == ex["rows"]

    wh = open_warehouse()
    try:
        before = _core(wh)
        assert len(before) == ld["rows_loaded"] > 0

        # the same delivery loaded again (an Airflow retry on a third host): nothing changes
        _other_host(home)
        assert pipeline.load(PIPE, load_id)["status"] in ("already_loaded", "loaded")
        # and a whole new run: the agency has nothing new, so the warehouse stays as it was
        _other_host(home)
        again = pipeline.run(PIPE)
        assert again["rows_loaded"] == 0
        assert _core(wh) == before
        loads = wh.query("select * from ops.loads where stream = 'penduduk' order by loaded_at")
        assert [r["status"] for r in loads] == ["loaded", "loaded"]
        assert (loads[0]["load_id"], loads[1]["rows_loaded"]) == (load_id, 0)
    finally:
        wh.dispose()
    landed = fs.ls(f"{bucket}/landing/siak/penduduk", detail=False)
    assert len([p for p in landed if not p.endswith(".run.lock")]) == 2


def test_unsealed_delivery_in_the_bucket_is_never_read(shared):
    """A crash between uploading the data and writing the manifest leaves an object that no
    other host treats as a delivery."""
    from simpul import pipeline
    from simpul.landing import LandingError

    fs, bucket, home = shared["fs"], shared["bucket"], shared["home"]
    load_id = pipeline.extract(PIPE)["load_id"]
    fs.rm(f"{bucket}/landing/siak/penduduk/{load_id}/_manifest.json")
    _other_host(home)
    with pytest.raises(LandingError, match="no sealed delivery"):
        pipeline.transform(PIPE, load_id)


def test_tampered_object_is_refused(shared):
    from simpul import pipeline
    from simpul.landing import LandingError

    fs, bucket, home = shared["fs"], shared["bucket"], shared["home"]
    load_id = pipeline.extract(PIPE)["load_id"]
    fs.pipe_file(f"{bucket}/landing/siak/penduduk/{load_id}/data.parquet", b"PAR1 forged")
    _other_host(home)
    with pytest.raises(LandingError, match="SHA-256"):
        pipeline.transform(PIPE, load_id)


def test_password_in_a_storage_url_is_refused(monkeypatch):
    from simpul.config import ConfigError
    from simpul.storage import redact, storage_options

    with pytest.raises(ConfigError) as info:
        storage_options("sftp://hub:hunter2@files.example/landing")
    assert "hunter2" not in str(info.value)
    assert redact("sftp://hub:hunter2@files.example:22/x") == "sftp://hub:***@files.example:22/x"


def test_default_areas_stay_under_simpul_home(simpul_home):
    from simpul.config import paths
    from simpul.storage import store

    assert paths().landing == simpul_home / "landing"
    for area in ("landing", "staging", "reports", "outbox"):
        st = store(area)
        assert not st.remote and st.local == simpul_home / area


def test_pull_broken_on_one_host_resumes_on_another(shared, monkeypatch):
    """The pages landed before the link dropped are in the bucket with their progress record;
    the retry on another worker host fetches only the pages after the break."""
    from simpul import pipeline
    from simpul.config import load_config
    from simpul.pipeline import extraction

    fs, bucket, home = shared["fs"], shared["bucket"], shared["home"]
    cfg = load_config()
    cfg.sources["siak"].page_size = 40
    real = pipeline.build_connector
    broken = {"after": 3}
    served: list[int] = []

    def breaking(cfg, source):
        connector = real(cfg, source)
        pages = connector.read_pages

        def read_pages(*args, **kwargs):
            for i, item in enumerate(pages(*args, **kwargs)):
                if broken["after"] is not None and i == broken["after"]:
                    raise ConnectionError("the mobile link dropped")
                served.append(i)
                yield item

        connector.read_pages = read_pages
        return connector

    monkeypatch.setattr(extraction, "build_connector", breaking)  # where extract finds it
    with pytest.raises(Exception, match="unreachable"):
        pipeline.extract(PIPE, cfg)
    progress = [p for p in fs.find(f"{bucket}/landing/siak/penduduk") if "_progress" in p]
    (load_id,) = {p.split("/")[-2] for p in progress}
    parts = fs.find(f"{bucket}/landing/siak/penduduk/{load_id}/parts")
    assert len(parts) == 3 and not fs.exists(
        f"{bucket}/landing/siak/penduduk/{load_id}/_manifest.json"
    )

    _other_host(home)
    broken["after"] = None
    served.clear()
    ex = pipeline.extract(PIPE, cfg)
    assert ex["load_id"] == load_id and ex["pull_runs"] == 2
    assert len(served) == 8 - 3  # 301 rows in pages of 40: only the 5 after the break
    delivery = f"{bucket}/landing/siak/penduduk/{load_id}"
    assert sorted(p.rsplit("/", 1)[-1] for p in fs.find(delivery)) == [
        "_manifest.json",
        "data.parquet",
    ]  # parts and progress gone: joined into the sealed delivery
    _other_host(home)
    assert pipeline.transform(PIPE, load_id)["received"] == ex["rows"] == 301
