"""The SQLite results store: round trip, versioning, WAL, and safety of existing rows."""
from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from unlearnbench.core.errors import UserError
from unlearnbench.execution.store import SCHEMA_VERSION, ResultStore, open_store


def _row(**overrides):
    row = {"run_id": "r1", "created": "2026-01-01T00:00:00+00:00", "dataset": "digits", "model": "mlp",
           "forget": [0, 2], "seed": 0, "method": "original", "method_version": 1, "params": {"a": 1},
           "params_hash": "h", "access": [], "status": "ok", "error": None, "time_s": 0.5,
           "phases": {"noise": 0.2}, "reused_phases": [], "peak_mem_bytes": 10,
           "metrics": {"acc_test": 0.9}, "env": {"torch": "x"}, "recipe": {"epochs": 1}}
    return {**row, **overrides}


def test_round_trip_decodes_json_columns(tmp_path):
    store = open_store(tmp_path)
    store.insert(_row())
    (row,) = store.rows()
    assert row["forget"] == [0, 2] and row["phases"] == {"noise": 0.2} and row["metrics"]["acc_test"] == 0.9


def test_schema_version_and_wal_mode(tmp_path):
    open_store(tmp_path).insert(_row())
    db = sqlite3.connect(tmp_path / "results.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_failed_rows_are_stored_with_their_error(tmp_path):
    store = open_store(tmp_path)
    store.insert(_row(status="failed", error="diverged", time_s=None, metrics={}))
    assert store.rows()[0]["error"] == "diverged"


def test_reopening_appends_and_keeps_rows(tmp_path):
    open_store(tmp_path).insert(_row())
    open_store(tmp_path).insert(_row(method="unsir"))
    assert [r["method"] for r in open_store(tmp_path).rows()] == ["original", "unsir"]


def test_newer_schema_is_refused_untouched(tmp_path):
    path = tmp_path / "results.db"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(UserError, match="newer than this unlearnbench"):
        ResultStore(path)


def test_missing_store_for_reading_says_how_to_make_one(tmp_path):
    with pytest.raises(UserError, match="run `unlearnbench run --out"):
        open_store(tmp_path / "nothing", create=False)


def test_file_that_is_not_a_database_is_a_user_error(tmp_path):
    (tmp_path / "results.db").write_text("garbage " * 100)
    with pytest.raises(UserError, match=r"is damaged \(file is not a database\); nothing was run. Move it aside"):
        open_store(tmp_path)
    assert (tmp_path / "results.db").read_text().startswith("garbage")


def test_version_1_store_is_upgraded_in_place_keeping_rows(tmp_path):
    path = tmp_path / "results.db"
    db = sqlite3.connect(path)
    db.executescript("""CREATE TABLE cells (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL,
        created TEXT NOT NULL, dataset TEXT NOT NULL, model TEXT NOT NULL, forget TEXT NOT NULL,
        seed INTEGER NOT NULL, method TEXT NOT NULL, method_version INTEGER NOT NULL, params TEXT NOT NULL,
        params_hash TEXT NOT NULL, access TEXT NOT NULL, status TEXT NOT NULL, error TEXT, time_s REAL,
        phases TEXT NOT NULL, reused_phases TEXT NOT NULL, peak_mem_bytes INTEGER, metrics TEXT NOT NULL,
        env TEXT NOT NULL, recipe TEXT NOT NULL);
        INSERT INTO cells VALUES (1, 'r', 'c', 'digits', 'mlp', '[0]', 0, 'original', 1, '{}', 'h', '[]', 'ok',
        NULL, 0.1, '{}', '[]', 1, '{}', '{}', '{}');
        PRAGMA user_version = 1;""")
    db.close()
    store = ResultStore(path)
    store.insert(_row(cell_key="k1"))
    assert [r["cell_key"] for r in store.rows()] == [None, "k1"]
    assert store.status_by_key() == {"k1": "ok"}


def test_status_by_key_prefers_any_success(tmp_path):
    store = open_store(tmp_path)
    store.insert(_row(cell_key="a", status="failed", error="x"))
    store.insert(_row(cell_key="a"))
    store.insert(_row(cell_key="b", status="failed", error="y"))
    assert store.status_by_key() == {"a": "ok", "b": "failed"}


def test_a_version_2_store_reads_as_is_and_upgrades_on_write(tmp_path):
    shutil.copy(Path(__file__).parents[1] / "reports" / "examples" / "results.db", tmp_path / "results.db")
    read = open_store(tmp_path, create=False)
    before = read.rows()
    read.close()
    assert before and all(r["tuned"] is None for r in before)
    assert sqlite3.connect(tmp_path / "results.db").execute("PRAGMA user_version").fetchone()[0] == 2  # untouched
    store = open_store(tmp_path)
    store.insert(_row(cell_key="k", tuned={"sha": "abc"}))
    assert [r["tuned"] for r in store.rows()] == [None] * len(before) + [{"sha": "abc"}]
    assert sqlite3.connect(tmp_path / "results.db").execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
