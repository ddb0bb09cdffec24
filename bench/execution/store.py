"""The SQLite results store: one row per benchmark cell, schema-versioned, WAL mode."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Iterable

from unlearnbench.core.errors import UserError

SCHEMA_VERSION = 5
READABLE_FROM = 2  # read-only commands read stores from this schema on (later columns read as NULL)
_JSON_COLUMNS = ("forget", "params", "access", "phases", "reused_phases", "metrics", "env", "recipe", "tuned",
                 "scenarios")
_COLUMNS = (
    "run_id", "created", "dataset", "model", "forget", "seed", "method", "method_version", "params",
    "params_hash", "access", "status", "error", "time_s", "phases", "reused_phases", "peak_mem_bytes",
    "metrics", "env", "recipe", "cell_key", "tuned", "role", "scenarios", "definitions", "defaults",
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
    cell_key TEXT,
    tuned TEXT,
    role TEXT, scenarios TEXT, definitions INTEGER,
    defaults TEXT
);
CREATE INDEX IF NOT EXISTS cells_setting ON cells (dataset, model, forget, seed, method);
CREATE INDEX IF NOT EXISTS cells_key ON cells (cell_key);
PRAGMA user_version = {SCHEMA_VERSION};
"""
# Upgrades from each older schema version, applied in order inside one transaction.
_MIGRATIONS = {
    1: "ALTER TABLE cells ADD COLUMN cell_key TEXT; CREATE INDEX IF NOT EXISTS cells_key ON cells (cell_key);",
    2: "ALTER TABLE cells ADD COLUMN tuned TEXT;",  # provenance of tuned parameters (NULL: defaults)
    # The method's role and scenarios as it declared them when the row ran, and the metric definitions' version
    # (NULL: stored before these existed, read as the registry says and as definitions 1).
    3: "ALTER TABLE cells ADD COLUMN role TEXT; ALTER TABLE cells ADD COLUMN scenarios TEXT; "
       "ALTER TABLE cells ADD COLUMN definitions INTEGER;",
    # Which defaults the method ran with: "shipped-tuned" or "paper" (NULL: stored before shipped defaults, when a
    # few methods carried hand-chosen per-model values).
    4: "ALTER TABLE cells ADD COLUMN defaults TEXT;",
}


class ResultStore:
    """Appends and reads benchmark rows in `<out>/results.db`."""

    def __init__(self, path: Path, read_only: bool = False) -> None:
        self.path = Path(path)
        self.skipped: list[tuple[int, str]] = []  # (row id, why) of rows the last `rows()` could not decode
        try:
            if read_only:  # read commands never write, so a store on read-only media or one being written works
                self._db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(self.path, timeout=30)
                self._db.execute("PRAGMA journal_mode=WAL")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            check = self._db.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise UserError(self._damaged(str(exc))) from None
        except (OSError, sqlite3.Error) as exc:
            raise UserError(f"cannot open results store {str(self.path)!r}: {exc}") from None
        if check != "ok":
            raise UserError(self._damaged(check))
        if version > SCHEMA_VERSION:
            raise UserError(f"{self.path} has schema {version}, newer than this unlearnbench ({SCHEMA_VERSION}); upgrade")
        if read_only and version < READABLE_FROM:
            raise UserError(f"{self.path} has schema {version}: open it once with `unlearnbench run` or `sweep`, which "
                            f"upgrade it in place, then read it")
        if version == 0:
            self._db.executescript(_SCHEMA)
        elif version < SCHEMA_VERSION and not read_only:
            script = "".join(_MIGRATIONS[v] for v in range(version, SCHEMA_VERSION))
            self._db.executescript(f"BEGIN; {script} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
        # Read-only, an older store keeps its schema: the columns it lacks read as NULL.
        self._present = {row[1] for row in self._db.execute("PRAGMA table_info(cells)")}

    def _damaged(self, detail: str) -> str:
        return (f"results store {str(self.path)!r} is damaged ({detail.splitlines()[0]}); nothing was run. Move it "
                f"aside (mv {self.path} {self.path}.damaged) to start a new one, or recover its rows with "
                f"`sqlite3 {self.path} .recover | sqlite3 recovered.db`")

    def insert(self, row: dict[str, Any]) -> int:
        """Stores one cell in its own transaction; returns its id."""
        values = [json.dumps(row.get(c)) if c in _JSON_COLUMNS else row.get(c) for c in _COLUMNS]
        with self._db:
            cur = self._db.execute(
                f"INSERT INTO cells ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})", values
            )
        return int(cur.lastrowid)

    def rows(self, run_id: str | None = None) -> list[dict[str, Any]]:
        """All stored cells (optionally of one run), oldest first, with JSON columns decoded.

        A row that cannot be decoded (malformed JSON, a wrong type, an unknown status) is left out and listed in
        `skipped`, so one bad row never hides the others.
        """
        query = f"SELECT id, {', '.join(c if c in self._present else f'NULL AS {c}' for c in _COLUMNS)} FROM cells"
        args: Iterable[Any] = ()
        if run_id is not None:
            query, args = query + " WHERE run_id = ?", (run_id,)
        cur = self._db.execute(query + " ORDER BY id", tuple(args))
        names = [d[0] for d in cur.description]
        rows, self.skipped = [], []
        for values in cur.fetchall():
            row = dict(zip(names, values))
            try:
                rows.append(_decode(row))
            except ValueError as exc:
                self.skipped.append((row["id"], str(exc)))
        return rows

    def update_metrics(self, row_id: int, metrics: dict[str, Any]) -> None:
        """Replaces one row's metrics (rescoring a saved model), in its own transaction."""
        with self._db:
            self._db.execute("UPDATE cells SET metrics = ? WHERE id = ?", (json.dumps(metrics), row_id))

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


_DECODED_TYPES = {"forget": list, "params": dict, "access": list, "phases": dict, "reused_phases": list,
                  "metrics": dict, "env": dict, "recipe": dict, "tuned": dict, "scenarios": list}
_NULLABLE = {"tuned", "scenarios"}  # tuned NULL: default parameters; scenarios NULL: stored before schema 4


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    """Decodes the JSON columns in place; ValueError names the first column that is malformed."""
    for column in _JSON_COLUMNS:
        try:
            value = json.loads(row[column]) if row[column] is not None else None
        except (TypeError, ValueError):
            raise ValueError(f"{column} is not valid JSON") from None
        if not isinstance(value, _DECODED_TYPES[column]) and not (value is None and column in _NULLABLE):
            raise ValueError(f"{column} is {type(value).__name__}, not {_DECODED_TYPES[column].__name__}")
        row[column] = value
    if row["status"] not in ("ok", "failed"):
        raise ValueError(f"status {row['status']!r} is neither ok nor failed")
    return row


def skipped_note(store: "ResultStore") -> str | None:
    """One line listing the rows the last read left out, or None."""
    if not store.skipped:
        return None
    listed = "; ".join(f"id {row_id}: {why}" for row_id, why in store.skipped[:10])
    more = f"; and {len(store.skipped) - 10} more" if len(store.skipped) > 10 else ""
    return f"skipped {len(store.skipped)} malformed row(s) of {store.path} ({listed}{more})"


def open_store(out: Path, create: bool = True) -> ResultStore:
    """Opens `<out>/results.db` to write; with create=False it must exist and is opened read-only."""
    path = Path(out) / "results.db"
    if not create and not path.exists():
        raise UserError(f"no results store at {str(path)!r}: run `unlearnbench run --out {out}` first")
    return ResultStore(path, read_only=not create)
