"""Data-parallel training under torchrun on the CPU (gloo), with real processes.

- 2 ranks with grad_accum k log the same losses as 1 process with grad_accum 2k (the same
  global batch: batches are a function of seed, step and micro-batch index).
- Two "nodes" on this machine (two launchers, --nnodes 2, a localhost rendezvous) make one run.
- SIGTERM to a 2-rank run (as `workbench stop` and the TUI send it) ends both ranks after one
  checkpoint, `stopped`; resuming it in 1 process continues the same curve.
- A rank that dies ends the others; the run ends `failed` naming the rank.

Every wait has a timeout; children are killed in a finally.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

import psutil
import pytest

from tests.conftest import ROOT, workbench_cmd, workbench_env
from workbench.store import RunStore

TINY = str(ROOT / "experiments" / "tiny.toml")
STEPS = 50
# tiny.toml with a loss logged every step, no samples or telemetry, and a schedule that does not
# depend on max_steps (so a resumed run with another max_steps keeps the same learning rates)
COMMON = ["train.log_interval=1", "train.decay_steps=50", "eval.interval=0", "sample.interval=-1",
          "system.telemetry_interval=0", "checkpoint.interval=0", "system.threads=1"]
TIMEOUT = 240


def sets(*overrides: str) -> list[str]:
    return [a for o in (*COMMON, *overrides) for a in ("--set", o)]


def workbench(*args: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run(workbench_cmd(*args), env=workbench_env(), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def only_run(runs_dir):
    runs = RunStore(runs_dir).runs()
    assert len(runs) == 1, [r.id for r in runs]
    return runs[0]


def losses(run) -> dict[int, float]:
    rows, _ = run.reader().scalars_since(0, keys=["train/loss"], limit=10**6)
    steps = [r.step for r in rows]
    assert steps == sorted(set(steps)), "a step was logged twice"
    return {r.step: r.value for r in rows}


def assert_close(a: dict[int, float], b: dict[int, float], steps) -> None:
    for s in steps:
        assert abs(a[s] - b[s]) <= 1e-3 * abs(b[s]), f"step {s}: {a[s]} vs {b[s]}"


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    """The reference: 1 process, grad_accum 4, the first 50 steps of tiny.toml."""
    runs = tmp_path_factory.mktemp("one") / "runs"
    done = workbench("run", TINY, "--runs-dir", str(runs), *sets("train.grad_accum=4", f"train.max_steps={STEPS}"))
    assert done.returncode == 0, done.stderr[-3000:]
    return only_run(runs)


def test_two_ranks_match_one_process(tmp_path, one_process):
    done = workbench("run", TINY, "--runs-dir", str(tmp_path / "runs"), "--nproc", "2",
                     *sets("train.grad_accum=2", f"train.max_steps={STEPS}"))
    assert done.returncode == 0, done.stderr[-3000:]
    run = only_run(tmp_path / "runs")
    info = run.info()
    assert info.status == "finished" and info.summary["step"] == STEPS
    two, one = losses(run), losses(one_process)
    assert sorted(two) == sorted(one) == list(range(1, STEPS + 1))
    assert_close(two, one, range(1, STEPS + 1))
    val2, val1 = run.reader().last("eval/val_loss").value, one_process.reader().last("eval/val_loss").value
    assert abs(val2 - val1) < 0.01
    assert len(list(run.checkpoints_dir.glob("*.pt"))) == 2  # last and best, written once each
    events = [e.kind for e in run.reader().events()]
    assert events.count("checkpoint") == 1 and events.count("start") == 1



def test_fork_onto_two_ranks(tmp_path):
    """A fork's first session resets its best val loss on every rank, so an evaluation that writes
    best.pt (a collective) is one every rank takes part in: the fork, worse than its parent at
    first (a far higher lr), writes its own best.pt and ends rather than hangs."""
    from workbench.checkpoint import load

    runs = tmp_path / "runs"
    done = workbench("run", TINY, "--runs-dir", str(runs), *sets("train.max_steps=20", "eval.interval=10",
                                                                   "eval.batches=2", "train.lr=3e-3"))
    assert done.returncode == 0, done.stderr[-3000:]
    parent = only_run(runs)
    done = workbench("fork", parent.id, "--runs-dir", str(runs), "--set", "system.nproc=2", "--set", "train.lr=0.5",
                     "--set", "train.max_steps=30", "--set", "eval.interval=5", "--set", "eval.batches=2")
    assert done.returncode == 0, done.stderr[-3000:]
    (child,) = [r for r in RunStore(runs).runs() if r.id != parent.id]
    info = child.info()
    assert info.status == "finished" and info.forked_from == {"run": parent.id, "checkpoint": "last", "step": 20}
    assert sorted(losses(child)) == list(range(21, 31))
    r, rp = child.reader(), parent.reader()
    try:
        first_val = r.series("eval/val_loss")[0]
        parent_best = min(v for step, v in rp.series("eval/val_loss") if step > 0)
    finally:
        r.close()
        rp.close()
    # the case that needs every rank to agree: only a rank that had not reset would skip this best.pt
    assert first_val[0] == 25 and first_val[1] > parent_best
    assert load(child.checkpoint("best"))["step"] >= 25

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_nodes_one_store(tmp_path):
    endpoint = f"127.0.0.1:{free_port()}"
    procs = []
    try:
        for node in (1, 0):  # node 1 first: the rendezvous waits for both
            procs.append(subprocess.Popen(
                workbench_cmd("run", TINY, "--runs-dir", str(tmp_path / f"runs{node}"), "--nproc", "1",
                              "--nnodes", "2", "--node-rank", str(node), "--rdzv-endpoint", endpoint,
                              *sets("train.max_steps=10")),
                env=workbench_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                stdin=subprocess.DEVNULL))
        for p in procs:
            _, err = p.communicate(timeout=TIMEOUT)
            assert p.returncode == 0, err[-3000:]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    run = only_run(tmp_path / "runs0")  # node 0 records
    assert not (tmp_path / "runs1").exists() or not list((tmp_path / "runs1").iterdir())
    assert run.info().status == "finished"
    assert sorted(losses(run)) == list(range(1, 11))
    assert run.info().summary["step"] == 10


def rank_pids(launcher_pid: int) -> dict[int, int]:
    """{global rank: pid} of the ranks torchrun started under a launcher process."""
    out = {}
    for child in psutil.Process(launcher_pid).children(recursive=True):
        try:
            env = child.environ()
        except (psutil.Error, OSError):
            continue
        if "RANK" in env and "workbench" in " ".join(child.cmdline()):
            out[int(env["RANK"])] = child.pid
    return out


def kill_tree(pid: int) -> None:
    """Kill a launcher and every rank under it (torchrun puts each rank in its own session)."""
    try:
        procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return
    for p in procs:
        try:
            p.kill()
        except psutil.Error:
            pass


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def logged_step(run) -> int:
    """The last step in the run's log (plain progress lines), without waiting for the database."""
    import re

    steps = re.findall(r"step\s+(\d+)", run.log_path.read_text(errors="replace")) if run.log_path.exists() else []
    return int(steps[-1]) if steps else 0


def test_stop_two_ranks_then_resume_in_one(tmp_path, one_process, monkeypatch):
    from workbench.launch import start_run, stop_run

    for k, v in workbench_env().items():
        monkeypatch.setenv(k, v)
    store = RunStore(tmp_path / "runs")
    exp = tmp_path / "tiny.toml"
    exp.write_text(open(TINY).read())
    # as the TUI's start-with-overrides does it: system.nproc=2 among the overrides
    run = start_run(store, exp, [*COMMON, "system.nproc=2", "train.grad_accum=2", "train.max_steps=100000"])
    launcher = run.raw_info().pid  # rank 0 puts its own pid in run.json once it starts
    try:
        wait_for(lambda: logged_step(run) >= 3, TIMEOUT, "3 logged steps")
        ranks = rank_pids(launcher)
        assert sorted(ranks) == [0, 1]
        assert stop_run(run, timeout=TIMEOUT) == "stopped"
        wait_for(lambda: not any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"
                                 for p in (launcher, *ranks.values())), 60, "the launcher and both ranks to end")
    finally:
        kill_tree(launcher)
    events = [e for e in run.reader().events() if e.kind == "checkpoint"]
    assert len(events) == 1 and "stopped by SIGTERM" in events[0].message
    stopped_at = max(losses(run))
    assert stopped_at < STEPS, "the run was not stopped early enough to compare its continuation"

    done = workbench("run", "--resume", run.id, "--runs-dir", str(store.root), "--nproc", "1",
                     "--set", "train.grad_accum=4", "--set", f"train.max_steps={STEPS}")
    assert done.returncode == 0, done.stderr[-3000:]
    assert run.info().status == "finished"
    resumed, one = losses(run), losses(one_process)
    assert sorted(resumed) == list(range(1, STEPS + 1))
    assert_close(resumed, one, range(1, STEPS + 1))


def test_a_rank_that_dies_fails_the_run(tmp_path):
    runs = tmp_path / "runs"
    launcher = subprocess.Popen(
        workbench_cmd("run", TINY, "--runs-dir", str(runs), "--nproc", "2", *sets("train.max_steps=100000")),
        env=workbench_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        run = wait_for(lambda: RunStore(runs).runs() and RunStore(runs).runs()[0], TIMEOUT, "the run folder")
        wait_for(lambda: logged_step(run) >= 3, TIMEOUT, "3 logged steps")
        os.kill(wait_for(lambda: rank_pids(launcher.pid).get(1), 30, "rank 1"), signal.SIGKILL)
        _, err = launcher.communicate(timeout=TIMEOUT)
    finally:
        kill_tree(launcher.pid)
    assert launcher.returncode == 1, err[-3000:]
    info = run.info()
    assert info.status == "failed" and "rank 1" in info.reason and "SIGKILL" in info.reason, info.reason


# ---------------------------------------------------------------- the pieces, without processes


@pytest.mark.parametrize("overrides, message", [
    (["system.nproc=0"], "system.nproc"),
    (["system.device=[0, 0]"], "lists a GPU twice"),
    (["system.device=[0, 1]", "system.nproc=3"], "lists 2 GPUs"),
    (["system.device='cuda:1'", "system.nproc=2"], "one GPU"),
    (["system.device=[-1]"], "list of GPU indices"),
])
def test_bad_process_settings(overrides, message):
    from workbench.config import load_config
    from workbench.errors import WorkbenchError

    with pytest.raises(WorkbenchError, match=message):
        load_config(TINY, overrides)


def test_processes_and_gpus():
    from workbench.config import load_config
    from workbench.config_checks import processes
    from workbench.device import gpu_index
    from workbench.torchrun import gpu_env

    cfg = load_config(TINY, ["system.device=[2, 3]"])
    assert processes(cfg.system) == 2 and gpu_env(cfg.system.device) == {"CUDA_VISIBLE_DEVICES": "2,3"}
    assert processes(load_config(TINY, ["system.nproc=4"]).system) == 4
    assert gpu_index([2, 3], 1, visible="2,3") == 1  # the launcher narrowed the visible GPUs
    assert gpu_index([2, 3], 1, visible="") == 3  # torchrun by hand: every GPU visible


def test_torchrun_command_line():
    from workbench.errors import WorkbenchError
    from workbench.torchrun import Nodes, torchrun_argv

    one = torchrun_argv(2, Nodes(), ["run", "x.toml"])
    assert "--standalone" in one and one[-4:] == ["-m", "workbench", "run", "x.toml"]
    two = torchrun_argv(8, Nodes(2, 1, "10.0.0.1:29500"), ["run", "x.toml"])
    assert {"--nnodes=2", "--node_rank=1", "--rdzv_backend=c10d", "--rdzv_endpoint=10.0.0.1:29500"} <= set(two)
    with pytest.raises(WorkbenchError, match="rdzv-endpoint"):
        Nodes(2, 0, "").check()
    with pytest.raises(WorkbenchError, match="node-rank"):
        Nodes(2, 2, "h:1").check()


def test_failures_name_the_rank():
    from types import SimpleNamespace

    from workbench.torchrun import describe

    def failure(code, local, t=100, message=""):
        return SimpleNamespace(exitcode=code, local_rank=local, timestamp=t, message=message,
                               error_file_data={"message": message} if message else {},
                               signal_name=lambda: signal.Signals(-code).name if code < 0 else "")

    stopped = describe({0: failure(143, 0), 1: failure(143, 1)})
    assert stopped.exit_code == 143 and stopped.rank is None
    killed = describe({0: failure(1, 0, message="RuntimeError: lost a peer"), 1: failure(-9, 1)})
    assert (killed.exit_code, killed.rank, killed.why) == (1, 1, "killed by SIGKILL")
    raised = describe({1: failure(1, 1, message="ValueError: boom")})
    assert (raised.rank, raised.why) == (1, "ValueError: boom")
    # the agent's SIGTERM to the survivor is the effect; the SIGKILL (or a reported error) the cause
    assert describe({0: failure(-15, 0), 1: failure(-9, 1)}).rank == 1
    assert describe({0: failure(1, 0), 1: failure(1, 1, message="ValueError: boom")}).rank == 1


def test_dashboard_draws_each_gpu():
    from workbench.keys import rank_key, rank_of_key
    from workbench.tui.widgets.telemetry_panel import TelemetryPanel

    assert rank_key("gpu/util", 3) == "gpu3/util" and rank_of_key("gpu3/util") == 3
    assert rank_of_key("gpu/util") is None and rank_of_key("train/loss") is None
    panel = TelemetryPanel()
    panel.telemetry = {"gpu/util": [(0, 50.0)], "gpu1/util": [(0, 70.0), (1, 80.0)]}
    panel.now = {"gpu/util": 50.0, "gpu/mem_total": 8e10, "gpu1/util": 80.0}
    text = panel.build().plain
    assert "util" in text and "gpu1" in text and "80%" in text
