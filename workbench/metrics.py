"""metrics.sqlite: one writer (the trainer), any number of readers (CLI, TUI).

The writer queues rows and a background thread commits them in one transaction
about once a second, so the training loop never waits on disk and a kill -9
loses at most the last batch. WAL mode lets readers see a consistent prefix
while the writer goes on. Readers use autocommit connections: no read
transaction stays open between polls (it would pin the WAL and grow it).
"""

from __future__ import annotations

import math
import queue
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from workbench import keys
from workbench.smoothing import EmaState

SCHEMA = """
CREATE TABLE IF NOT EXISTS scalars (
    id INTEGER PRIMARY KEY, step INTEGER NOT NULL, tokens INTEGER NOT NULL,
    time REAL NOT NULL, key TEXT NOT NULL, value REAL NOT NULL);
CREATE INDEX IF NOT EXISTS scalars_key_step ON scalars (key, step);
CREATE TABLE IF NOT EXISTS telemetry (
    id INTEGER PRIMARY KEY, time REAL NOT NULL, step INTEGER, key TEXT NOT NULL, value REAL NOT NULL);
CREATE INDEX IF NOT EXISTS telemetry_key_time ON telemetry (key, time);
CREATE TABLE IF NOT EXISTS samples (
    id INTEGER PRIMARY KEY, step INTEGER NOT NULL, tokens INTEGER NOT NULL,
    time REAL NOT NULL, prompt TEXT NOT NULL, text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, step INTEGER, time REAL NOT NULL, kind TEXT NOT NULL, message TEXT NOT NULL);
"""

X_COLUMNS = {"step": "step", "tokens": "tokens", "time": "time"}


@dataclass
class Scalar:
    id: int
    step: int
    tokens: int
    time: float
    key: str
    value: float


@dataclass
class Sample:
    id: int
    step: int
    tokens: int
    time: float
    prompt: str
    text: str


@dataclass
class Event:
    id: int
    step: int | None
    time: float
    kind: str
    message: str


def connect(path: Path | str, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0,
                               isolation_level=None, check_same_thread=False)
    else:
        conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(SCHEMA)
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


class MetricsWriter:
    """Thread-safe, buffered writer. Call close() in a finally: it commits what is queued."""

    def __init__(self, path: Path | str, flush_interval: float = 1.0):
        self.path = Path(path)
        self.flush_interval = flush_interval
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._conn = connect(self.path)
        self._lock = threading.Lock()  # one commit at a time (thread vs flush())
        self._pending: dict[str, list[tuple]] = {}  # taken from the queue, not yet committed
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="metrics-writer", daemon=True)
        self._thread.start()

    # --- what the trainer calls (cheap: a queue put)
    def scalars(self, step: int, tokens: int, values: dict[str, float], t: float | None = None) -> None:
        t = time.time() if t is None else t
        # one queue item per call: a call's values always land in the same transaction
        self._queue.put(("scalars", [(int(step), int(tokens), t, k, float(v)) for k, v in values.items()]))

    def telemetry(self, values: dict[str, float], t: float | None = None, step: int | None = None) -> None:
        t = time.time() if t is None else t
        # a reading the device could not give (NaN) is simply absent
        self._queue.put(("telemetry", [(t, step, k, float(v)) for k, v in values.items()
                                       if math.isfinite(float(v))]))

    def sample(self, step: int, tokens: int, prompt: str, text: str, t: float | None = None) -> None:
        self._queue.put(("samples", [(int(step), int(tokens), time.time() if t is None else t, prompt, text)]))

    def event(self, kind: str, message: str, step: int | None = None, t: float | None = None) -> None:
        self._queue.put(("events", [(step, time.time() if t is None else t, kind, message)]))

    def put(self, table: str, rows: list[tuple]) -> None:
        """Queue rows already in the table's column order and types (see INSERTS): the
        recording API's fast path, one queue put per call."""
        self._queue.put((table, rows))

    def truncate_after(self, step: int) -> None:
        """On resume: forget what was logged after the checkpoint, so no step appears twice."""
        self.flush()
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute("DELETE FROM scalars WHERE step > ?", (step,))
            self._conn.execute("DELETE FROM samples WHERE step > ?", (step,))
            self._conn.execute("DELETE FROM events WHERE step > ?", (step,))
            self._conn.execute("COMMIT")

    # --- committing
    INSERTS = {
        "scalars": "INSERT INTO scalars (step, tokens, time, key, value) VALUES (?, ?, ?, ?, ?)",
        "telemetry": "INSERT INTO telemetry (time, step, key, value) VALUES (?, ?, ?, ?)",
        "samples": "INSERT INTO samples (step, tokens, time, prompt, text) VALUES (?, ?, ?, ?, ?)",
        "events": "INSERT INTO events (step, time, kind, message) VALUES (?, ?, ?, ?)",
    }

    def flush(self) -> None:
        """Commit everything queued in one transaction. When the commit fails (disk full) the
        rows stay pending and the next flush tries them again: nothing is dropped silently."""
        with self._lock:
            while True:
                try:
                    table, batch = self._queue.get_nowait()
                except queue.Empty:
                    break
                if table == "scalars":
                    batch = self._finite(batch)
                self._pending.setdefault(table, []).extend(batch)
            if not self._pending:
                return
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for table, batch in self._pending.items():
                    self._insert(table, batch)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._pending = {}

    CHUNK = 500  # rows per INSERT statement

    def _insert(self, table: str, rows: list[tuple]) -> None:
        """Many rows per statement: sqlite3 lets go of the GIL once per statement it steps, so
        a script logging thousands of points a second is not interrupted once per row."""
        sql, n = self.INSERTS[table], self.CHUNK
        full = len(rows) - len(rows) % n
        if full:
            head, one = sql.split(" VALUES ")
            many = f"{head} VALUES {', '.join([one] * n)}"
            for i in range(0, full, n):
                self._conn.execute(many, [v for row in rows[i:i + n] for v in row])
        if full < len(rows):
            self._conn.executemany(sql, rows[full:])

    def _finite(self, rows: list[tuple]) -> list[tuple]:
        """NaN/Inf values are not stored (value is REAL NOT NULL, and a plot cannot draw them):
        each becomes a 'nonfinite' event, and the finite rows beside it are kept."""
        bad = [r for r in rows if not math.isfinite(r[4])]
        if not bad:
            return rows
        for step, _, t, key, value in bad:
            self._pending.setdefault("events", []).append(
                (step, t, "nonfinite", f"{key} = {value} at step {step} (not recorded)"))
        return [r for r in rows if math.isfinite(r[4])]

    def _loop(self) -> None:
        while not self._closed.wait(self.flush_interval):
            try:
                self.flush()
            except sqlite3.Error:
                pass  # disk trouble: keep training; close() tries once more and raises

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self._thread.join(timeout=10)
        try:
            self.flush()
        finally:
            self._conn.close()

    def __enter__(self) -> MetricsWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class MetricsReader:
    """Read-only view of a run's metrics. One reader per thread."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection | None:
        if self._conn is None:
            if not self.path.exists():
                return None  # the trainer has not written anything yet
            try:
                self._conn = connect(self.path, readonly=True)
            except sqlite3.OperationalError:
                return None
        return self._conn

    def _query(self, sql: str, args: tuple = ()) -> list[tuple]:
        db = self._db()
        if db is None:
            return []
        try:
            return db.execute(sql, args).fetchall()
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):
                return []  # created but schema not committed yet
            raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def keys(self) -> list[str]:
        return [r[0] for r in self._query("SELECT DISTINCT key FROM scalars ORDER BY key")]

    def telemetry_keys(self) -> list[str]:
        return [r[0] for r in self._query("SELECT DISTINCT key FROM telemetry ORDER BY key")]

    def last(self, key: str) -> Scalar | None:
        rows = self._query("SELECT id, step, tokens, time, key, value FROM scalars WHERE key = ? "
                           "ORDER BY step DESC, id DESC LIMIT 1", (key,))
        return Scalar(*rows[0]) if rows else None

    def aggregate(self, key: str, fn: str = "MIN") -> float | None:
        assert fn in ("MIN", "MAX", "AVG", "COUNT")
        rows = self._query(f"SELECT {fn}(value) FROM scalars WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def telemetry_max(self, key: str) -> float | None:
        rows = self._query("SELECT MAX(value) FROM telemetry WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def time_range(self) -> tuple[float, float] | None:
        rows = self._query("SELECT MIN(time), MAX(time) FROM scalars")
        return rows[0] if rows and rows[0][0] is not None else None

    def series(self, key: str, x: str = "step", max_points: int = 2000,
               table: str = "scalars", until_step: int | None = None) -> list[tuple[float, float]]:
        """(x, value) points of one key, at most about max_points of them.

        Long series are cut into max_points/2 buckets along x and each bucket keeps its
        minimum and its maximum, so spikes survive downsampling. x is 'step', 'tokens'
        or 'time' (seconds since the series' first point). until_step: only the points up to
        that step (scalars; a fork's parent up to the fork).
        """
        if table not in ("scalars", "telemetry") or (until_step is not None and table != "scalars"):
            raise ValueError(table)
        col = "time" if table == "telemetry" else X_COLUMNS[x]
        where, args = ("key = ?", (key,)) if until_step is None else ("key = ? AND step <= ?", (key, until_step))
        rows = self._query(f"SELECT COUNT(*), MIN({col}), MAX({col}) FROM {table} WHERE {where}", args)
        if not rows or not rows[0][0]:
            return []
        n, lo, hi = rows[0]
        if n <= max_points or hi == lo:
            pts = self._query(f"SELECT {col}, value FROM {table} WHERE {where} ORDER BY {col}, id", args)
        else:
            buckets = max(1, max_points // 2)
            width = (hi - lo) / buckets
            # SQLite returns the row holding the MIN()/MAX() for bare columns in the same SELECT.
            pts = []
            for agg in ("MIN", "MAX"):
                pts += self._query(
                    f"SELECT {col}, {agg}(value) FROM {table} WHERE {where} "
                    f"GROUP BY CAST(({col} - ?) / ? AS INTEGER)", (*args, lo, width))
            pts = sorted(set(pts))
        if x == "time" or table == "telemetry":
            t0 = self.first_time()
            pts = [(t - t0, v) for t, v in pts] if t0 is not None else pts
        return [(float(a), float(b)) for a, b in pts]

    def smoothed(self, key: str, strength: float, x: str = "step", max_points: int = 2000,
                 table: str = "scalars") -> tuple[list[tuple[float, float]], EmaState]:
        """The bias-corrected EMA of every raw point of `key` (not of a downsampled series),
        kept at about max_points; and the EMA's state, to go on with points that arrive later."""
        if table not in ("scalars", "telemetry"):
            raise ValueError(table)
        col = "time" if table == "telemetry" else X_COLUMNS[x]
        state = EmaState(strength)
        db = self._db()
        rows = self._query(f"SELECT MIN({col}), MAX({col}) FROM {table} WHERE key = ?", (key,))
        if db is None or not rows or rows[0][0] is None:
            return [], state
        lo, hi = rows[0]
        t0 = self.first_time() if (x == "time" or table == "telemetry") else None
        width = (hi - lo) / max(1, max_points) or 1.0
        out: list[tuple[float, float]] = []
        bucket = None
        cursor = db.execute(f"SELECT {col}, value FROM {table} WHERE key = ? ORDER BY {col}, id", (key,))
        for xv, v in cursor:  # streamed: a million rows never sit in memory at once
            y = state.add(v)
            b = int((xv - lo) / width)
            point = (float(xv - t0) if t0 is not None else float(xv), y)
            if b == bucket:
                out[-1] = point  # a bucket keeps its last smoothed point
            else:
                out.append(point)
                bucket = b
        return out, state

    def first_time(self) -> float | None:
        """Wall clock of the run's first point: x = 0 on the time axis."""
        rows = self._query("SELECT MIN(t) FROM (SELECT MIN(time) AS t FROM scalars "
                           "UNION ALL SELECT MIN(time) FROM telemetry)")
        return rows[0][0] if rows else None

    def scalars_since(self, cursor: int = 0, keys: list[str] | None = None,
                      limit: int = 100_000) -> tuple[list[Scalar], int]:
        """Rows written after `cursor` (a row id) and the new cursor, for live tailing."""
        sql = "SELECT id, step, tokens, time, key, value FROM scalars WHERE id > ?"
        args: tuple = (cursor,)
        if keys:
            sql += f" AND key IN ({','.join('?' * len(keys))})"
            args += tuple(keys)
        rows = [Scalar(*r) for r in self._query(sql + " ORDER BY id LIMIT ?", args + (limit,))]
        return rows, (rows[-1].id if rows else cursor)

    def rows(self, key: str, after_id: int = -1, limit: int = 50_000) -> list[Scalar]:
        """One key's rows in the order written (= by step: a resume drops what came after its
        checkpoint), `limit` at a time after the row id `after_id`."""
        return [Scalar(*r) for r in self._query(
            "SELECT id, step, tokens, time, key, value FROM scalars WHERE key = ? AND id > ? ORDER BY id LIMIT ?",
            (key, after_id, limit))]

    def max_id(self, table: str = "scalars") -> int:
        assert table in ("scalars", "telemetry", "samples", "events")
        rows = self._query(f"SELECT MAX(id) FROM {table}")
        return (rows[0][0] or 0) if rows else 0

    def telemetry_latest(self) -> dict[str, float]:
        rows = self._query("SELECT key, value FROM telemetry WHERE id IN "
                           "(SELECT MAX(id) FROM telemetry GROUP BY key)")
        return dict(rows)

    def samples(self, since: int = 0, limit: int = 1000) -> list[Sample]:
        return [Sample(*r) for r in self._query(
            "SELECT id, step, tokens, time, prompt, text FROM samples WHERE id > ? ORDER BY step, id LIMIT ?",
            (since, limit))]

    def events(self, since: int = 0, limit: int = 1000, phases: bool = False) -> list[Event]:
        """Events in the order recorded; the trainer's phase changes (keys.PHASE) only if asked."""
        where = "" if phases else f" AND kind != '{keys.PHASE}'"
        return [Event(*r) for r in self._query(
            f"SELECT id, step, time, kind, message FROM events WHERE id > ?{where} ORDER BY id LIMIT ?",
            (since, limit))]
