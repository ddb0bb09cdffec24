"""The SQLite results store: one row per benchmark cell, schema-versioned, WAL mode."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Iterable

from unlearnbench.errors import UserError

SCHEMA_VERSION = 2
_JSON_COLUMNS = ("forget", "params", "access", "phases", "reused_phases", "metrics", "env", "recipe")
_COLUMNS = (
    "run_id", "created", "dataset", "model", "forget", "seed", "method", "method_version", "params",
    "params_hash", "access", "status", "error", "time_s", "phases", "reused_phases", "peak_mem_bytes",
    "metrics", "env", "recipe", "cell_key",
)
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS cells (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL, created TEXT NOT NULL,
    dataset TEXT NOT NULL, model TEXT NOT NULL, forget TEXT NOT NULL, seed INTEGER NOT NULL,
    method TEXT NOT NULL, method_version INTEGER NOT NULL, params TEXT NOT NULL, params_hash TEXT NOT NULL,
    access TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')), error TEXT,
    time_s REAL, phases TEXT NOT NULL, reused_phases TEXT NOT NULL, peak_mem_bytes INTEGER,
    metrics TEXT NOT NULL, env TEXT NOT NULL, recipe TEXT NOT NULL,
    cell_key TEXT
);
CREATE INDEX IF NOT EXISTS cells_setting ON cells (dataset, model, forget, seed, method);
CREATE INDEX IF NOT EXISTS cells_key ON cells (cell_key);
PRAGMA user_version = {SCHEMA_VERSION};
"""
# Upgrades from each older schema version, applied in order inside one transaction.
_MIGRATIONS = {
    1: "ALTER TABLE cells ADD COLUMN cell_key TEXT; CREATE INDEX IF NOT EXISTS cells_key ON cells (cell_key);",
}


class ResultStore:
    """Appends and reads benchmark rows in `<out>/results.db`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
        except (OSError, sqlite3.Error) as exc:
            raise UserError(f"cannot open results store {str(self.path)!r}: {exc}") from None
        if version > SCHEMA_VERSION:
            raise UserError(f"{self.path} has schema {version}, newer than this unlearnbench ({SCHEMA_VERSION}); upgrade")
        if version == 0:
            self._db.executescript(_SCHEMA)
        elif version < SCHEMA_VERSION:
            script = "".join(_MIGRATIONS[v] for v in range(version, SCHEMA_VERSION))
            self._db.executescript(f"BEGIN; {script} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")

    def insert(self, row: dict[str, Any]) -> int:
        """Stores one cell in its own transaction; returns its id."""
        values = [json.dumps(row.get(c)) if c in _JSON_COLUMNS else row.get(c) for c in _COLUMNS]
        with self._db:
            cur = self._db.execute(
                f"INSERT INTO cells ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})", values
            )
        return int(cur.lastrowid)

    def rows(self, run_id: str | None = None) -> list[dict[str, Any]]:
        """All stored cells (optionally of one run), oldest first, with JSON columns decoded."""
        query = f"SELECT id, {', '.join(_COLUMNS)} FROM cells"
        args: Iterable[Any] = ()
        if run_id is not None:
            query, args = query + " WHERE run_id = ?", (run_id,)
        cur = self._db.execute(query + " ORDER BY id", tuple(args))
        names = [d[0] for d in cur.description]
        return [_decode(dict(zip(names, values))) for values in cur.fetchall()]

    def status_by_key(self) -> dict[str, str]:
        """cell_key -> 'ok' if any stored row of that cell succeeded, else 'failed'."""
        out: dict[str, str] = {}
        for key, status in self._db.execute("SELECT cell_key, status FROM cells WHERE cell_key IS NOT NULL"):
            if out.get(key) != "ok":
                out[key] = status
        return out

    def close(self) -> None:
        """Closes the connection."""
        self._db.close()


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    for column in _JSON_COLUMNS:
        row[column] = json.loads(row[column]) if row[column] is not None else None
    return row


def open_store(out: Path, create: bool = True) -> ResultStore:
    """Opens `<out>/results.db`; with create=False a missing store is a UserError."""
    path = Path(out) / "results.db"
    if not create and not path.exists():
        raise UserError(f"no results store at {str(path)!r}: run `unlearnbench run --out {out}` first")
    return ResultStore(path)
