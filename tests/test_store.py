"""Run store: layout, run.json, liveness, metrics concurrency, kill -9, downsampling, prefixes."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from tests.conftest import ROOT, write_fake_run
from workbench.config import Config, load_config
from workbench.errors import WorkbenchError
from workbench.keys import SUMMARY_FIELDS
from workbench.metrics import MetricsReader, MetricsWriter
from workbench.store import RunStore


def test_new_run_ids_are_unique_and_safe(runs_dir):
    store = RunStore(runs_dir)
    ids = [store.new_run_id("my exp/../x", now=1.7e9) for _ in range(3)]
    assert len(set(ids)) == 3
    assert all("/" not in i and " " not in i and ".." not in i for i in ids)
    assert ids[1] == ids[0] + "-2"


def test_create_run_writes_config_and_run_json(runs_dir):
    store = RunStore(runs_dir)
    cfg = load_config(ROOT / "experiments/bf16.toml")
    run = store.create_run(store.new_run_id("bf16"), cfg, experiment_file=ROOT / "experiments/bf16.toml")
    assert load_config(run.config_path) == cfg  # runnable as is
    info = json.loads(run.info_path.read_text())
    assert info["status"] == "running" and info["pid"] == os.getpid() and info["hostname"]
    assert [p.rsplit("/", 1)[-1] for p in info["extends_chain"]] == ["bf16.toml", "tf32.toml", "fp32.toml", "char.toml"]
    assert info["parent_config"]["system"]["precision"] == "tf32"
    assert run.info().status == "running"  # we are alive


def test_liveness_dead_pid_and_other_boot_read_as_crashed(runs_dir):
    store = RunStore(runs_dir)
    run = store.create_run(store.new_run_id("x"), Config())
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait(timeout=30)
    run.update_info(pid=p.pid, pid_start_time=time.time() - 5)
    assert run.info().status == "crashed"
    run.mark_running()
    run.update_info(pid_start_time=123.0)  # our pid, but another process's start time: pid reuse
    assert run.info().status == "crashed"
    run.mark_running()
    run.update_info(boot_id="another-boot")
    assert run.info().status == "crashed"
    run.mark_running()
    assert run.info().status == "running"


def test_writer_reader_roundtrip_and_cursor(runs_dir):
    store = RunStore(runs_dir)
    run = write_fake_run(store, "a", steps=100)
    r = run.reader()
    assert r.keys() == ["eval/train_loss", "eval/val_loss", "perf/tok_per_s", "train/loss"]
    rows, cursor = r.scalars_since(0, keys=["train/loss"])
    assert [x.step for x in rows] == list(range(0, 101, 10))
    assert r.scalars_since(cursor, keys=["train/loss"])[0] == []
    assert [s.step for s in r.samples()] == [0, 50, 100]
    assert r.events()[0].kind == "start"
    s = run.summary()
    assert s["step"] == 100 and s["best_val_loss"] == pytest.approx(r.aggregate("eval/val_loss"))
    assert s["peak_memory_bytes"] == 2e9 and s["params"] == 1234567
    assert set(s) == set(SUMMARY_FIELDS)
    assert run.info().summary["step"] == 100  # saved when the run ended


def test_reader_before_anything_is_written(runs_dir):
    r = MetricsReader(runs_dir / "nothing.sqlite")
    assert r.series("train/loss") == [] and r.samples() == [] and r.last("x") is None


def test_downsampling_keeps_extremes(tmp_path):
    with MetricsWriter(tmp_path / "m.sqlite") as w:
        for step in range(100_000):
            v = 1.0
            if step == 54_321:
                v = 100.0  # a spike
            if step == 77_777:
                v = -5.0
            w.scalars(step, step * 10, {"train/loss": v}, t=1000.0 + step)
    r = MetricsReader(tmp_path / "m.sqlite")
    pts = r.series("train/loss", max_points=200)
    assert len(pts) <= 220
    values = [v for _, v in pts]
    assert max(values) == 100.0 and min(values) == -5.0
    assert (54_321.0, 100.0) in pts
    assert pts == sorted(pts)
    by_time = r.series("train/loss", x="time", max_points=200)
    assert by_time[0][0] == 0.0 and max(v for _, v in by_time) == 100.0
    by_tokens = r.series("train/loss", x="tokens", max_points=200)
    assert (543_210.0, 100.0) in by_tokens


WRITER = textwrap.dedent("""
    import sys, time
    from workbench.metrics import MetricsWriter
    w = MetricsWriter(sys.argv[1], flush_interval=0.05)
    n = int(sys.argv[2])
    for step in range(n):
        w.scalars(step, step, {"train/loss": float(step), "perf/tok_per_s": 1.0})
        if step % 50 == 0:
            time.sleep(0.01)
    w.close()
""")


def test_concurrent_writers_and_readers_never_lock(tmp_path):
    n = 2000
    paths = [tmp_path / f"run{i}.sqlite" for i in range(4)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(p), str(n)], env=env, stderr=subprocess.PIPE)
             for p in paths]
    try:
        readers = [MetricsReader(p) for p in paths]
        seen = [0] * len(paths)
        deadline = time.monotonic() + 60
        while any(pr.poll() is None for pr in procs) and time.monotonic() < deadline:
            for i, r in enumerate(readers):
                rows, _ = r.scalars_since(0, keys=["train/loss"])
                steps = [x.step for x in rows]
                assert steps == list(range(len(steps))), "a reader saw a gap: not a consistent prefix"
                seen[i] = len(steps)
                r.series("train/loss", max_points=100)
        for pr in procs:
            assert pr.wait(timeout=60) == 0, pr.stderr.read().decode()
        for r in readers:
            assert len(r.scalars_since(0, keys=["train/loss"])[0]) == n
    finally:
        for pr in procs:
            if pr.poll() is None:
                pr.kill()


def test_kill_9_mid_batch_leaves_a_readable_prefix(tmp_path):
    db = tmp_path / "m.sqlite"
    code = textwrap.dedent("""
        import sys
        from workbench.metrics import MetricsWriter
        w = MetricsWriter(sys.argv[1], flush_interval=0.02)
        step = 0
        while True:
            w.scalars(step, step, {"train/loss": 1.0, "perf/step_ms": 2.0})
            step += 1
    """)
    p = subprocess.Popen([sys.executable, "-c", code, str(db)], env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if db.exists() and MetricsReader(db).max_id() > 20_000:
                break
            time.sleep(0.05)
        os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    r = MetricsReader(db)
    steps = [x.step for x in r.scalars_since(0, keys=["train/loss"], limit=10**7)[0]]
    assert len(steps) > 1000 and steps == list(range(len(steps)))
    # pairs are written in one transaction: never half a step
    assert r.aggregate("perf/step_ms", "COUNT") == len(steps)


def test_truncate_after_for_resume(tmp_path):
    with MetricsWriter(tmp_path / "m.sqlite") as w:
        for step in range(10):
            w.scalars(step, step, {"train/loss": 1.0})
        w.sample(8, 8, "p", "t")
        w.truncate_after(5)
        w.scalars(6, 6, {"train/loss": 2.0})
    r = MetricsReader(tmp_path / "m.sqlite")
    assert [(x.step, x.value) for x in r.scalars_since(0)[0]] == [(s, 1.0) for s in range(6)] + [(6, 2.0)]
    assert r.samples() == []


def test_resolve_by_unique_prefix(runs_dir):
    store = RunStore(runs_dir)
    a = write_fake_run(store, "alpha", started=1.7e9)
    write_fake_run(store, "alpha", started=1.7e9 + 3600)
    b = write_fake_run(store, "beta", started=1.7e9)
    assert store.resolve("beta").id == b.id
    assert store.resolve(a.id).id == a.id
    with pytest.raises(WorkbenchError, match="ambiguous.*\n.*alpha"):
        store.resolve("alpha")
    with pytest.raises(WorkbenchError, match="no run matches 'zeta'"):
        store.resolve("zeta")


def test_list_runs_newest_first_with_filters(runs_dir):
    store = RunStore(runs_dir)
    write_fake_run(store, "a", started=1.7e9)
    write_fake_run(store, "b", status="stopped", started=1.7e9 + 10)
    write_fake_run(store, "c", status="diverged", started=1.7e9 + 20)
    assert [i.experiment for i in store.list_runs()] == ["c", "b", "a"]
    assert [i.experiment for i in store.list_runs(status="stopped")] == ["b"]
    assert [i.experiment for i in store.list_runs(experiment="a")] == ["a"]


def test_an_exited_but_uncollected_child_reads_as_crashed(runs_dir):
    """The TUI starts trainers as its children; one that exits is a zombie until collected."""
    import psutil

    store = RunStore(runs_dir)
    run = store.create_run(store.new_run_id("z"), Config())
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        started = psutil.Process(p.pid).create_time()
        deadline = time.monotonic() + 30
        while psutil.Process(p.pid).status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
            time.sleep(0.05)
        run.update_info(pid=p.pid, pid_start_time=started)
        assert run.info().status == "crashed"
    finally:
        p.wait(timeout=10)
