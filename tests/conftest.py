"""Shared fixtures. Tests never use the network or a GPU."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_TIKTOKEN = ROOT.parent / "shared" / "data" / "tiktoken"
if SHARED_TIKTOKEN.is_dir() and "TIKTOKEN_CACHE_DIR" not in os.environ:
    os.environ["TIKTOKEN_CACHE_DIR"] = str(SHARED_TIKTOKEN)


def bpe_available() -> bool:
    """Is the GPT-2 BPE file on disk? Without it tiktoken would download it: tests never do."""
    folder = os.environ.get("TIKTOKEN_CACHE_DIR")
    return bool(folder) and Path(folder, "0ea1e91bbb3a60f729a8dc8f777fd2fc07cd8df4").is_file()


requires_bpe = pytest.mark.skipif(not bpe_available(), reason="GPT-2 BPE file not on disk: set "
                                  "TIKTOKEN_CACHE_DIR to a folder holding it (tests use no network)")


def workbench_env(**extra: str) -> dict[str, str]:
    """Environment for a `python -m workbench` child that imports this checkout."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", **extra)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def workbench_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "workbench", *args]


def _poll_once(check, ignore: tuple, deadline: float, timeout: float, what: str, detail):
    """check()'s value when truthy, else None (exceptions in `ignore` count as "not yet");
    AssertionError once the deadline has passed, with detail() appended."""
    try:
        value = check()
    except ignore:
        value = None
    if value:
        return value
    if time.monotonic() >= deadline:
        extra = f"\n{detail()}" if detail else ""
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what}{extra}")
    return None


def wait_for(check, timeout: float = 30.0, what: str = "condition", interval: float = 0.05,
             detail=None, ignore: tuple = ()):
    """Poll check() until it returns something truthy and return that; AssertionError after
    `timeout` seconds, with detail() (e.g. a log tail) appended. Exceptions in `ignore` count as
    "not yet". Every wait in the tests goes through here or wait_for_pilot."""
    deadline = time.monotonic() + timeout
    while not (value := _poll_once(check, ignore, deadline, timeout, what, detail)):
        time.sleep(interval)
    return value


async def wait_for_pilot(pilot, check, timeout: float = 30.0, what: str = "condition",
                         interval: float = 0.05, detail=None, ignore: tuple = ()):
    """wait_for inside a Textual Pilot test: the app keeps running while it waits."""
    deadline = time.monotonic() + timeout
    while not (value := _poll_once(check, ignore, deadline, timeout, what, detail)):
        await pilot.pause(interval)
    return value


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """`workbench ARGS` in this process: (exit code, stdout, stderr)."""
    from workbench.cli import main

    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def set_json(path: Path, **changes) -> None:
    """Edit a JSON file in place, as someone could by hand (or in an archive they send)."""
    import json

    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def tiny_experiment(tmp_path: Path, name: str = "tiny", **sections) -> Path:
    """An experiment file for a tiny CPU model (tests.test_trainer.tiny_cfg, `section__key=value`)."""
    from tests.test_trainer import tiny_cfg
    from workbench.config import config_to_toml

    path = tmp_path / f"{name}.toml"
    path.write_text(config_to_toml(tiny_cfg(tmp_path, **sections)))
    return path


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    return tmp_path / "runs"


def write_fake_run(store, name: str, status: str = "finished", steps: int = 100, started: float = 1.7e9,
                   val_start: float = 3.0, cfg=None, log_every: int = 10):
    """A run as the trainer leaves it, written through the store's own writer (no torch)."""
    from workbench.config import Config

    cfg = cfg or Config()
    cfg.experiment.name = name
    run_id = store.new_run_id(name, now=started)
    run = store.create_run(run_id, cfg)
    run.update_info(started=started, params=1234567, max_steps=steps, device_name="cpu")
    with run.writer() as w:
        for step in range(0, steps + 1, log_every):
            t = started + step * 0.1
            loss = val_start * (0.99 ** step) + 0.5
            w.scalars(step, step * 1000, {"train/loss": loss, "perf/tok_per_s": 10000.0 + step}, t=t)
            if step % 50 == 0:
                w.scalars(step, step * 1000, {"eval/val_loss": loss + 0.1, "eval/train_loss": loss}, t=t)
                w.sample(step, step * 1000, "\n", f"sample text at {step}", t=t)
        w.telemetry({"cpu/percent": 50.0, "torch/peak": 2e9}, t=started + 1)
        w.event("start", "started", step=0, t=started)
    if status != "running":
        run.mark_ended(status, "" if status == "finished" else f"{status} for a test",
                       ended=started + steps * 0.1)
    return run


# ---------------------------------------------------------------- TUI (tests/test_tui*.py)


@pytest.fixture
def tui_store(tmp_path: Path) -> tuple[Path, Path]:
    """(runs_dir, experiments_dir): three ended runs with fixed times and values."""
    from fixtures_store import make_store

    return make_store(tmp_path)


@pytest.fixture
def pinned_tui(monkeypatch: pytest.MonkeyPatch) -> None:
    """No wall-clock or host-dependent text in the TUI: fixed 'now', UTC, one fake GPU."""
    import time

    from fixtures_store import T0

    from workbench.tui import poller
    from workbench.tui.messages import GpuRow, HostSnapshot

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr(poller, "clock", lambda: T0 + 7200)
    host = HostSnapshot(gpus=[GpuRow(0, "NVIDIA H100 80GB HBM3", 87.0, 61.2e9, 80e9, 71.0, 512.0)],
                        gpu_note="", cpu_pct=12.0, ram_used=10.2e9, ram_total=64e9)
    monkeypatch.setattr(poller, "host_snapshot", lambda: host)
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def inspect_store(tui_store) -> tuple[Path, Path]:
    """tui_store whose run tiny-20260101-120000 has init, step-6, best and last checkpoints."""
    from fixtures_attn import tiny_config, write_checkpoints

    runs, _ = tui_store
    write_checkpoints(runs / "tiny-20260101-120000" / "checkpoints", tiny_config())
    return tui_store
