"""Reading the run store for the TUI. Runs in worker threads only, never on the UI thread.

Each screen's worker owns its own readers (one SQLite connection per thread) and
hands plain dataclasses (workbench/tui/messages.py) to the UI. Long series come
downsampled from the store; live points are tailed with a row-id cursor and the
downsampled series is fetched again when the tail grows long.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import replace

from workbench import fork, keys, labels, telemetry
from workbench.config import IDENTITY_KEYS, flatten
from workbench.metrics import MetricsReader
from workbench.run_info import ENDED, RunInfo
from workbench.smoothing import EmaState
from workbench.store import Run, RunStore
from workbench.tui.messages import GpuRow, HostSnapshot, RunRow, RunSnapshot

LOSS_KEYS = (keys.TRAIN_LOSS, keys.EVAL_VAL_LOSS)
PERF_KEYS = (keys.TOK_PER_S, keys.MFU, keys.STEP_MS)
TELEMETRY_KEYS = (keys.GPU_UTIL, keys.GPU_MEM_USED, keys.CPU_PERCENT, keys.TORCH_ALLOCATED)
X_AXES = ("step", "tokens", "time")  # the charts' x, in the order `t` steps through them
MAX_POINTS = 1500  # per curve, after downsampling in SQL
PERF_POINTS = 120  # sparklines are narrow
TELEMETRY_POINTS = 120


def clock() -> float:
    """Wall time; tests pin it."""
    return time.time()


# ---------------------------------------------------------------- home


class RunsPoller:
    """The runs table. Summaries of ended runs come from run.json and are cached."""

    def __init__(self, store: RunStore):
        self.store = store
        self._ended: dict[tuple[str, str], dict] = {}

    def poll(self) -> list[RunRow]:
        rows = []
        now = clock()
        for run, info in self.store.scan():
            key = (run.id, info.status)
            if info.status in ENDED and key in self._ended:
                summ, kind = self._ended[key]
            else:
                info, summ = run.overview(info)  # a broken database makes a damaged row
                kind = run_kind(run, info)
                if info.status in ENDED:
                    self._ended[key] = summ, kind
            if info.status == "running" and info.started:
                duration = now - info.started  # as Run.summary's wall time, at the poll's 'now'
            else:
                duration = summ.get("wall_time_s")
            rows.append(RunRow(id=run.id, status=info.status, experiment=info.experiment,
                               step=int(summ.get("step") or 0),
                               max_steps=summ.get("max_steps") or info.max_steps,
                               best_val=summ.get("best_val_loss"), tok_s=summ.get("tokens_per_sec"),
                               started=info.started, duration=duration, reason=info.reason, kind=kind,
                               **_labels(run, info)))
        return rows


def _labels(run: Run, info: RunInfo) -> dict:
    """Tags and note for a row: read every poll (ended runs too: `workbench tag` may change them)."""
    got = labels.for_run(run.path, info.tags)
    return {"tags": got.tags, "note": got.note}


def run_kind(run: Run, info: RunInfo) -> str:
    """'profile' for a `workbench profile` run (its steps are not a training run's), 'fork' for a
    run forked from another's checkpoint (`workbench fork`), else RunInfo.kind."""
    if info.kind == "trainer" and (info.reason == "profile" or run.profile_path.exists()):
        return "profile"
    if info.kind == "trainer" and info.forked_from:
        return "fork"
    return info.kind


def host_snapshot() -> HostSnapshot:
    """GPUs through NVML (workbench.gpus), CPU and RAM through psutil."""
    gpus: list[GpuRow] = []
    note = ""
    try:
        from workbench import gpus as gpu_mod

        for g in gpu_mod.list_gpus():
            gpus.append(GpuRow(index=g.index, name=g.name or f"GPU {g.index}", util_pct=g.util_pct,
                               mem_used=g.mem_used_bytes, mem_total=g.mem_total_bytes,
                               temp_c=g.temp_c, power_w=g.power_w))
    except Exception as e:  # noqa: BLE001 - the panel says what went wrong instead
        note = f"GPU query failed: {e}"
    if not gpus and not note:
        note = "no NVIDIA GPU (NVML unavailable)"
    host = telemetry.host_snapshot()  # CPU and RAM, the same figures a run's telemetry records
    return HostSnapshot(gpus=gpus, gpu_note=note, cpu_pct=host.get(keys.CPU_PERCENT),
                        ram_used=host.get(keys.RAM_USED), ram_total=host.get(keys.RAM_TOTAL))


# ---------------------------------------------------------------- one run


class RunTail:
    """Follows one run: call poll() every half second from one thread.

    The first poll (and any poll after `x` changes) fetches the downsampled series;
    later polls fetch only rows after the cursor and append them.
    """

    def __init__(self, run: Run, x: str = "step", chart_keys: tuple[str, ...] = LOSS_KEYS,
                 smoothing: float = 0.0):
        self.run = run
        self.x = x
        self.chart_keys = tuple(chart_keys)  # the charts' series: scalar or telemetry keys
        self.smoothing = smoothing
        self.reader: MetricsReader = run.reader()
        self._loaded: tuple | None = None  # (x, chart_keys, smoothing) of the last full fetch
        self._cursor = 0
        self._series: dict[str, list[tuple[float, float]]] = {}
        self._before_fork: dict[str, list[tuple[float, float]]] = {}
        self._smooth: dict[str, tuple[list[tuple[float, float]], EmaState]] = {}
        self._tele_keys: set[str] = set()
        self._available: list[str] = []
        self._perf: dict[str, list[tuple[float, float]]] = {}
        self._appended = 0
        self._t0: float | None = None
        self._sample_cursor = 0
        self._event_cursor = 0
        self._phase: str | None = None
        self._telemetry_cursor = -1
        self._telemetry_at = 0.0
        self._step = 0
        self._tokens = 0
        self._perf_now: dict[str, float] = {}
        self._log_size = -1
        self._summary: dict = {}
        self._summary_key: tuple | None = None

    def close(self) -> None:
        self.reader.close()

    def _xval(self, step: int, tokens: int, t: float) -> float:
        if self.x == "tokens":
            return float(tokens)
        if self.x == "time":
            return t - (self._t0 or t)
        return float(step)

    def _full_fetch(self, info: RunInfo) -> None:
        r = self.reader
        self._cursor = r.max_id("scalars")
        self._t0 = r.first_time()
        self._tele_keys = set(r.telemetry_keys()) - set(r.keys())
        scalar_keys = [k for k in self.chart_keys if k not in self._tele_keys]
        self._series = {k: r.series(k, x=self.x, max_points=MAX_POINTS) for k in scalar_keys}
        self._before_fork = self._parent_series(info, scalar_keys)
        self._smooth = {k: r.smoothed(k, self.smoothing, x=self.x, max_points=MAX_POINTS)
                        for k in scalar_keys} if self.smoothing else {}
        self._telemetry_cursor = -1  # telemetry charts: fetched again on this poll
        self._telemetry_at = 0.0
        self._perf = {k: r.series(k, x="step", max_points=PERF_POINTS) for k in PERF_KEYS[:2]}
        for k in PERF_KEYS:
            last = r.last(k)
            if last is not None:
                self._perf_now[k] = last.value
        last = r.last(keys.TRAIN_LOSS)
        if last is not None:
            self._step, self._tokens = last.step, last.tokens
        self._appended = 0
        self._loaded = (self.x, self.chart_keys, self.smoothing)

    def _parent_series(self, info: RunInfo, scalar_keys: list[str]) -> dict[str, list[tuple[float, float]]]:
        """A fork's parent, up to the fork step, by step or tokens (its wall clock is another run's)."""
        found = fork.parent_of(self.run, info) if self.x != "time" else None
        if found is None:
            return {}
        parent, step = found
        r = parent.reader()
        try:
            return {k: r.series(k, x=self.x, max_points=MAX_POINTS, until_step=step) for k in scalar_keys}
        except (sqlite3.DatabaseError, OSError):
            return {}  # a damaged parent: the fork's own curve still shows
        finally:
            r.close()

    def poll(self) -> RunSnapshot:
        info = self.run.info()
        if info.status != "damaged":
            try:
                return self._poll(info)
            except sqlite3.DatabaseError as e:
                info = replace(info, status="damaged", reason=f"metrics.sqlite cannot be read ({e})")
        return RunSnapshot(run_id=self.run.id, info=info, x=self.x, step=self._step, tokens=self._tokens,
                           perf_now=dict(self._perf_now))

    def _poll(self, info: RunInfo) -> RunSnapshot:
        loss_changed = perf_changed = False
        if self._loaded != (self.x, self.chart_keys, self.smoothing):
            self._full_fetch(info)
            loss_changed = perf_changed = True
        else:
            rows, cursor = self.reader.scalars_since(self._cursor, limit=200_000)
            self._cursor = cursor
            for row in rows:
                if row.step >= self._step:
                    self._step, self._tokens = row.step, max(self._tokens, row.tokens)
                if row.key in self.chart_keys:
                    loss_changed |= self._append(row)
                if row.key in PERF_KEYS:
                    self._perf_now[row.key] = row.value
                    if row.key in self._perf:
                        self._perf[row.key].append((float(row.step), row.value))
                        perf_changed = True
            if self._appended > MAX_POINTS:  # too long to draw: downsample through the store again
                self._full_fetch(info)
                loss_changed = perf_changed = True
            for k, pts in self._perf.items():
                if len(pts) > 2 * PERF_POINTS:
                    self._perf[k] = pts[-PERF_POINTS:]
        if info.forked_from and not self._before_fork and info.forked_from.get("step") is not None:
            # a fork opened before its trainer had read the checkpoint: the fork step is known now
            self._before_fork = self._parent_series(info, list(self._series))
            loss_changed |= bool(self._before_fork)
        snap = RunSnapshot(run_id=self.run.id, info=info, x=self.x, step=self._step, tokens=self._tokens,
                           perf_now=dict(self._perf_now))
        if loss_changed:
            snap.series = {k: list(v) for k, v in self._series.items()}
            snap.smooth = {k: list(v[0]) for k, v in self._smooth.items()}
            snap.before_fork = self._before_fork
        if perf_changed:
            snap.perf = {k: list(v) for k, v in self._perf.items()}
        self._poll_telemetry(snap)
        snap.new_samples = self.reader.samples(since=self._sample_cursor)
        if snap.new_samples:
            self._sample_cursor = max(s.id for s in snap.new_samples)
        events = self.reader.events(since=self._event_cursor, phases=True)
        if events:
            self._event_cursor = events[-1].id
        for e in events:  # the latest phase the trainer named (a damaged file may name anything)
            if e.kind == keys.PHASE and e.message in keys.PHASES:
                self._phase = e.message
        snap.new_events = [e for e in events if e.kind != keys.PHASE]
        snap.phase = self._phase
        try:
            size = self.run.log_path.stat().st_size
        except OSError:
            size = -1
        if size != self._log_size:
            self._log_size = size
            snap.log_tail = self.run.log_tail(40)
        snap.loss_seen = self._cursor > 0  # any scalar at all
        snap.summary = self._figures(info)
        return snap

    def _append(self, row) -> bool:
        pts = self._series.setdefault(row.key, [])
        xv = self._xval(row.step, row.tokens, row.time)
        if pts and xv < pts[-1][0]:
            return False
        pts.append((xv, row.value))
        if row.key in self._smooth:
            smooth, state = self._smooth[row.key]
            smooth.append((xv, state.add(row.value)))
        self._appended += 1
        return True

    def _figures(self, info) -> dict:
        """Run.summary, the figures `ls` and `show` print: read again when rows arrived, the status
        changed, or (while running: wall time and ETA go on) once a second."""
        tick = int(clock()) if info.status == "running" else 0
        key = (self._cursor, info.status, info.ended, tick)
        if key != self._summary_key:
            self._summary = self.run.summary(self.reader, now=clock())
            self._summary_key = key
        return self._summary

    def _poll_telemetry(self, snap: RunSnapshot) -> None:
        """Telemetry is a few rows a second: fetch its downsampled series at most every 2 s."""
        now = time.monotonic()
        if now - self._telemetry_at < 2.0:
            return
        self._telemetry_at = now
        top = self.reader.max_id("telemetry")
        if top == self._telemetry_cursor:
            return
        self._telemetry_cursor = top
        r = self.reader
        snap.telemetry_now = r.telemetry_latest()
        # a data-parallel run's other GPUs: gpu1/util, gpu2/util, …
        others = sorted((k for k in snap.telemetry_now if keys.rank_of_key(k) is not None and k.endswith("/util")),
                        key=keys.rank_of_key)
        snap.telemetry = {k: r.series(k, table="telemetry", max_points=TELEMETRY_POINTS)
                          for k in (*TELEMETRY_KEYS, *others)}
        snap.available = sorted(set(r.keys()) | set(r.telemetry_keys()))
        snap.by_time = sorted(self._tele_keys)
        charted = [k for k in self.chart_keys if k in self._tele_keys]
        if charted:  # telemetry in a chart: by time, whatever the x axis
            snap.series = {**self._series, **{k: r.series(k, table="telemetry", max_points=MAX_POINTS)
                                              for k in charted}}
            snap.smooth = {k: v[0] for k, v in self._smooth.items()}
            if self.smoothing:
                snap.smooth.update({k: r.smoothed(k, self.smoothing, table="telemetry", max_points=MAX_POINTS)[0]
                                    for k in charted})


# ---------------------------------------------------------------- compare


def compare_curve(r: MetricsReader, key: str | None, x: str, smoothing: float) -> dict:
    """One run's curve of `key` (None: val loss, else train loss): raw, and smoothed on the raw points."""
    if key is None:
        key = keys.EVAL_VAL_LOSS if r.last(keys.EVAL_VAL_LOSS) is not None else keys.TRAIN_LOSS
    table = "scalars" if r.last(key) is not None or key in LOSS_KEYS else "telemetry"
    raw = r.series(key, x=x, max_points=800, table=table)
    smooth = r.smoothed(key, smoothing, x=x, max_points=800, table=table)[0] if smoothing else None
    return {"key": key, "raw": raw, "smooth": smooth}


def compare_data(store: RunStore, run_ids: list[str], x: str = "step", key: str | None = None,
                 smoothing: float = 0.0, ended: dict | None = None) -> dict:
    """Everything the compare screen shows, read in one go (a worker calls this). `ended`, kept
    between calls, holds what an ended run showed: it is not read again while a run goes on."""
    out: dict = {"x": x, "curves": {}, "configs": {}, "summaries": {}, "samples": {}, "infos": {},
                 "available": set()}
    ended = {} if ended is None else ended
    for rid in run_ids:
        run = store.run(rid)
        info = run.info()
        done = (rid, info.status, info.ended, x, key, smoothing)
        if info.status in ENDED and done in ended:
            parts = ended[done]
        else:
            info, parts = _compare_run(run, info, key, x, smoothing)
            if info.status in ENDED:
                ended[done] = parts
        out["infos"][rid] = info
        (out["curves"][rid], available, out["summaries"][rid], out["samples"][rid], out["configs"][rid]) = parts
        out["available"] |= available
    all_keys: list[str] = []
    for cfg in out["configs"].values():
        all_keys += [k for k in cfg if k not in all_keys]
    out["available"] = sorted(out["available"])
    out["diff_keys"] = [k for k in all_keys if k not in IDENTITY_KEYS
                        and len({repr(c.get(k)) for c in out["configs"].values()}) > 1]
    return out


def _compare_run(run: Run, info: RunInfo, key: str | None, x: str, smoothing: float) -> tuple[RunInfo, tuple]:
    """(info, (curve, available keys, summary, samples, flat config)) of one run; damaged when its
    metrics cannot be read."""
    curve, available, summary, samples = {}, set(), {}, {}
    r = run.reader()
    try:
        if info.status != "damaged":
            curve = compare_curve(r, key, x, smoothing)
            available = set(r.keys()) | set(r.telemetry_keys())
            summary = run.cached_summary(info) if info.status != "running" else run.summary(r)
            samples = {s.step: s.text for s in r.samples(limit=10_000)}
    except sqlite3.DatabaseError as e:
        info = replace(info, status="damaged", reason=f"metrics.sqlite cannot be read ({e})")
    finally:
        r.close()
    try:
        config = flatten(run.config_values())
    except Exception:  # noqa: BLE001 - a run without a readable config still compares
        config = {}
    return info, (curve, available, summary, samples, config)
