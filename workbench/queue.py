"""The queue: runs waiting for a GPU (or a CPU slot), kept in the run store.

    runs/.queue/queue.sqlite   entries (frozen config, overrides, state) and settings
    runs/.queue/scheduler.lock held (flock) by the one scheduler of this store
    runs/.queue/scheduler.log  what the scheduler did

One SQLite table rather than a file per entry: taking the next entry, reordering and
removing are each one transaction, so `queue add` from a shell, the TUI and the
scheduler never race, and a killed scheduler leaves every entry in a known state.
Entries keep their resolved config (TOML text): editing the experiment file after
queuing changes nothing. An entry is waiting, then running (with its run id), then
done; removed ones are kept too, so a sweep can tell which of its trials went away.
No torch and no Textual here.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from workbench.config import Config, config_to_toml, from_dict, tomllib
from workbench.errors import WorkbenchError
from workbench.placement import gpus_wanted
from workbench.store import RunStore

QUEUE_DIR = ".queue"
STATES = ("waiting", "running", "done", "removed")
SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    position REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'waiting',
    experiment TEXT NOT NULL,
    experiment_file TEXT NOT NULL DEFAULT '',
    overrides TEXT NOT NULL DEFAULT '[]',
    config TEXT NOT NULL,
    gpus INTEGER NOT NULL DEFAULT 1,
    name TEXT NOT NULL DEFAULT '',
    sweep TEXT NOT NULL DEFAULT '',
    trial INTEGER NOT NULL DEFAULT -1,
    run_id TEXT NOT NULL DEFAULT '',
    added REAL NOT NULL,
    started REAL
);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass
class Entry:
    id: int
    position: float
    state: str
    experiment: str
    experiment_file: str = ""
    overrides: list = field(default_factory=list)
    config: str = ""
    gpus: int = 1
    name: str = ""
    sweep: str = ""
    trial: int = -1
    run_id: str = ""
    added: float = 0.0
    started: float | None = None

    def frozen_config(self) -> Config:
        return from_dict(tomllib.loads(self.config), where=f"queue entry {self.id}")


def queue_dir(store: RunStore) -> Path:
    return store.root / QUEUE_DIR


class Queue:
    def __init__(self, store: RunStore):
        self.store = store
        self.path = queue_dir(store) / "queue.sqlite"

    @contextmanager
    def _db(self):
        """One short connection per operation, one transaction (BEGIN IMMEDIATE: writers queue up)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=30, isolation_level=None)) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA busy_timeout=30000")
            db.executescript(SCHEMA)
            db.row_factory = sqlite3.Row
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    @staticmethod
    def _entry(row: sqlite3.Row) -> Entry:
        d = dict(row)
        d["overrides"] = json.loads(d["overrides"])
        return Entry(**d)

    # ---------------------------------------------------------------- adding and listing

    def add(self, cfg: Config, experiment_file: str = "", overrides: list | tuple = (), name: str = "",
            sweep: str = "", trial: int = -1) -> Entry:
        with self._db() as db:
            top = db.execute("SELECT MAX(position) FROM entries").fetchone()[0]
            cur = db.execute(
                "INSERT INTO entries (position, experiment, experiment_file, overrides, config, gpus, name,"
                " sweep, trial, added) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ((top or 0) + 1, cfg.experiment.name, str(experiment_file), json.dumps(list(overrides)),
                 config_to_toml(cfg), gpus_wanted(cfg), name, sweep, trial, time.time()))
            return self._entry(db.execute("SELECT * FROM entries WHERE id = ?", (cur.lastrowid,)).fetchone())

    def entries(self, states: tuple = ("running", "waiting"), sweep: str | None = None) -> list[Entry]:
        """Entries in these states: running ones first, then the waiting ones in queue order."""
        if not self.path.exists():
            return []
        marks = ",".join("?" * len(states))
        query = f"SELECT * FROM entries WHERE state IN ({marks})"
        args: list = list(states)
        if sweep is not None:
            query += " AND sweep = ?"
            args.append(sweep)
        query += " ORDER BY state = 'waiting', position"
        with self._db() as db:
            return [self._entry(r) for r in db.execute(query, args)]

    # ---------------------------------------------------------------- changes from the user

    def remove(self, entry_id: int) -> Entry:
        """Take a waiting entry off the queue (a running one is stopped like any run)."""
        with self._db() as db:
            row = db.execute("SELECT * FROM entries WHERE id = ?", (entry_id,)).fetchone()
            if row is None:
                raise WorkbenchError(f"no queue entry {entry_id}; `workbench queue` lists them")
            if row["state"] != "waiting":
                hint = f"; stop its run with `workbench stop {row['run_id']}`" if row["state"] == "running" else ""
                raise WorkbenchError(f"queue entry {entry_id} is {row['state']}, not waiting{hint}")
            db.execute("UPDATE entries SET state = 'removed' WHERE id = ?", (entry_id,))
        return self._entry(row)

    def move(self, entry_id: int, offset: int) -> None:
        """Move a waiting entry `offset` places earlier (negative) or later among the waiting."""
        with self._db() as db:
            ids = [r[0] for r in db.execute("SELECT id FROM entries WHERE state = 'waiting' ORDER BY position")]
            if entry_id not in ids:
                raise WorkbenchError(f"queue entry {entry_id} is not waiting; only waiting entries move")
            i = ids.index(entry_id)
            j = max(0, min(len(ids) - 1, i + offset))
            ids.insert(j, ids.pop(i))
            first = db.execute("SELECT MIN(position) FROM entries WHERE state = 'waiting'").fetchone()[0]
            for k, eid in enumerate(ids):
                db.execute("UPDATE entries SET position = ? WHERE id = ?", (first + k, eid))

    def set_paused(self, paused: bool, reason: str = "") -> None:
        self.set_setting("paused", json.dumps({"paused": paused, "reason": reason if paused else ""}))

    def paused(self) -> tuple[bool, str]:
        d = json.loads(self.setting("paused") or '{"paused": false, "reason": ""}')
        return bool(d.get("paused")), str(d.get("reason", ""))

    def setting(self, key: str) -> str | None:
        if not self.path.exists():
            return None
        with self._db() as db:
            row = db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_setting(self, key: str, value: str) -> None:
        with self._db() as db:
            db.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (key, value))

    # ---------------------------------------------------------------- changes from the scheduler

    def mark_running(self, entry_id: int, run_id: str) -> bool:
        """Claim a waiting entry for its run; False if it is no longer waiting (removed meanwhile)."""
        with self._db() as db:
            cur = db.execute("UPDATE entries SET state = 'running', run_id = ?, started = ? "
                             "WHERE id = ? AND state = 'waiting'", (run_id, time.time(), entry_id))
            return cur.rowcount == 1

    def mark_done(self, entry_id: int) -> None:
        with self._db() as db:
            db.execute("UPDATE entries SET state = 'done' WHERE id = ?", (entry_id,))

    def mark_waiting(self, entry_id: int) -> None:
        """Back to waiting: its run never started (the scheduler died between claim and start)."""
        with self._db() as db:
            db.execute("UPDATE entries SET state = 'waiting', run_id = '', started = NULL WHERE id = ?",
                       (entry_id,))

    def remove_waiting(self, sweep: str) -> int:
        """Take every waiting entry of a sweep off the queue; how many."""
        with self._db() as db:
            return db.execute("UPDATE entries SET state = 'removed' WHERE state = 'waiting' AND sweep = ?",
                              (sweep,)).rowcount
