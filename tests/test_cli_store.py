"""The store's commands: ls, show, compare, diff, rm, export/import (with hostile archives), stop."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import time

import pytest

from tests.conftest import ROOT, cli, workbench_cmd, workbench_env, write_fake_run
from workbench.store import RunStore


@pytest.fixture
def store(runs_dir):
    s = RunStore(runs_dir)
    write_fake_run(s, "alpha", started=1.7e9)
    write_fake_run(s, "beta", status="stopped", started=1.7e9 + 60, val_start=4.0)
    return s


def test_ls_table_and_json(store, capsys):
    code, out, _ = cli(capsys, "ls", "--runs-dir", str(store.root))
    assert code == 0 and "alpha-" in out and "beta-" in out and "stopped" in out
    assert out.index("beta-") < out.index("alpha-")  # newest first
    code, out, _ = cli(capsys, "--runs-dir", str(store.root), "ls", "--json", "--status", "stopped")
    rows = json.loads(out)
    assert [r["experiment"] for r in rows] == ["beta"] and rows[0]["step"] == 100


def test_ls_empty_store_says_what_to_do(runs_dir, capsys):
    runs_dir.mkdir()
    code, out, _ = cli(capsys, "ls", "--runs-dir", str(runs_dir))
    assert code == 0 and "no runs" in out and "workbench run" in out


def test_ls_filters_that_match_nothing_say_so(store, capsys):
    code, out, _ = cli(capsys, "ls", "--status", "failed", "--runs-dir", str(store.root))
    assert code == 0 and "no runs with status 'failed' (2 runs in" in out and "workbench ls" in out


def test_an_unknown_status_lists_the_valid_ones(store, capsys):
    with pytest.raises(SystemExit) as e:
        cli(capsys, "ls", "--status", "finshed", "--runs-dir", str(store.root))
    err = capsys.readouterr().err
    assert e.value.code == 2 and "'finshed'" in err and "'finished'" in err and "'crashed'" in err


def test_a_runs_dir_that_is_not_there_is_an_error(tmp_path, capsys, monkeypatch):
    nope = str(tmp_path / "nope")
    for args in (["ls"], ["show", "x"], ["compare", "x", "y"], ["tag", "x", "+a"], ["note", "x"], ["attn", "x"]):
        code, _, err = cli(capsys, *args, "--runs-dir", nope)
        assert code == 2 and f"--runs-dir {nope}: no such folder" in err and "workbench run" in err, args
    monkeypatch.setenv("WORKBENCH_RUNS_DIR", nope)
    code, _, err = cli(capsys, "ls")
    assert code == 2 and f"$WORKBENCH_RUNS_DIR={nope}: no such folder" in err


def test_no_colour_codes_into_pipes_or_with_no_color(store, monkeypatch):
    from workbench.formatting import use_color

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color(Tty()) and not use_color(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_color(Tty())
    for args in (["ls"], ["show", "alpha"], ["compare", "alpha", "beta"]):
        out = subprocess.run(workbench_cmd(*args, "--runs-dir", str(store.root)), capture_output=True,
                             text=True, timeout=60, cwd=ROOT, env=workbench_env())
        assert out.returncode == 0 and "\x1b[" not in out.stdout, args


def test_no_colour_codes_on_a_terminal_with_no_color(store, monkeypatch):
    """NO_COLOR on a real terminal (a pty): bold may stay, colours go (https://no-color.org)."""
    import os
    import pty
    import re

    colour = re.compile(r"\x1b\[[0-9;]*(3[0-9]|9[0-7]|38;)[0-9;]*m")

    def on_a_tty(args: list[str], **env: str) -> str:
        leader, follower = pty.openpty()
        p = subprocess.Popen(workbench_cmd(*args, "--runs-dir", str(store.root)), stdout=follower,
                             stderr=subprocess.DEVNULL, cwd=ROOT, env=workbench_env(TERM="xterm-256color", **env))
        os.close(follower)
        chunks = []
        try:
            while chunk := os.read(leader, 65536):  # read while it writes: a full pty would block it
                chunks.append(chunk)
        except OSError:  # EIO: the child closed the terminal
            pass
        finally:
            os.close(leader)
        assert p.wait(timeout=60) == 0, args
        return b"".join(chunks).decode("utf-8", "replace")

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert colour.search(on_a_tty(["ls"]))  # without NO_COLOR a terminal gets colour
    for args in (["ls"], ["show", "alpha"], ["compare", "alpha", "beta"]):
        out = on_a_tty(args, NO_COLOR="1")
        assert "alpha-" in out and not colour.search(out), args


def test_show_json_has_summary_fields(store, capsys):
    code, out, _ = cli(capsys, "show", "alpha", "--json", "--runs-dir", str(store.root))
    data = json.loads(out)
    assert code == 0 and data["status"] == "finished"
    assert data["summary"]["best_val_loss"] is not None and data["summary"]["params"] == 1234567
    assert data["samples"][-1]["text"] == "sample text at 100"
    code, out, _ = cli(capsys, "show", "beta", "--runs-dir", str(store.root))
    assert "stopped for a test" in out and "sample @ step 100" in out


def test_unknown_and_ambiguous_runs_exit_2(store, capsys):
    write_fake_run(store, "alpha", started=1.7e9 + 3600)
    code, _, err = cli(capsys, "show", "alpha", "--runs-dir", str(store.root))
    assert code == 2 and "ambiguous" in err
    code, _, err = cli(capsys, "show", "nope", "--runs-dir", str(store.root))
    assert code == 2 and "no run matches 'nope'" in err


def test_compare_and_diff(store, capsys, tmp_path):
    gamma_cfg = RunStore(store.root).resolve("alpha").config()
    gamma_cfg.train.lr = 0.005
    write_fake_run(store, "gamma", cfg=gamma_cfg, started=1.7e9 + 120)
    code, out, _ = cli(capsys, "compare", "alpha", "gamma", "--runs-dir", str(store.root))
    assert code == 0 and "best val loss" in out and "train.lr" in out and "eval/val_loss by step" in out
    assert "model.n_layer" not in out
    code, out, _ = cli(capsys, "diff", "alpha", "gamma", "--runs-dir", str(store.root))
    assert "train.lr" in out and "0.005" in out
    code, out, _ = cli(capsys, "diff", "alpha", str(ROOT / "experiments/tiny.toml"), "--runs-dir", str(store.root))
    assert code == 0 and "model.n_layer" in out
    code, _, err = cli(capsys, "compare", "alpha", "--runs-dir", str(store.root))
    assert code == 2 and "two or more" in err
    code, _, err = cli(capsys, "compare", "alpha", "gamma", "--key", "eval/val_los", "--runs-dir", str(store.root))
    assert code == 2 and "did you mean 'eval/val_loss'" in err


def test_rm_refuses_running_unless_forced(runs_dir, capsys):
    store = RunStore(runs_dir)
    running = write_fake_run(store, "live", status="running")
    running.mark_running()  # this test process owns it: alive
    code, _, err = cli(capsys, "rm", "live", "--runs-dir", str(runs_dir))
    assert code == 2 and "is running" in err and running.path.exists()
    code, _, _ = cli(capsys, "rm", "live", "--force", "--runs-dir", str(runs_dir))
    assert code == 0 and not running.path.exists()


def test_export_import_roundtrip(store, capsys, tmp_path):
    archive = tmp_path / "a.tar.gz"
    run = store.resolve("alpha")
    code, _, _ = cli(capsys, "export", "alpha", "-o", str(archive), "--runs-dir", str(store.root))
    assert code == 0 and archive.exists()
    code, _, err = cli(capsys, "import", str(archive), "--runs-dir", str(store.root))
    assert code == 2 and "already exists" in err
    other = tmp_path / "other-runs"
    code, _, _ = cli(capsys, "import", str(archive), "--runs-dir", str(other))
    assert code == 0
    copy = RunStore(other).resolve(run.id)
    assert copy.summary() == run.summary()


def hostile(tmp_path, members) -> str:
    path = tmp_path / "evil.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, kind in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                data = b"{}"
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
                tar.addfile(info)
            elif kind == "device":
                info.type = tarfile.CHRTYPE
                tar.addfile(info)
    return str(path)


@pytest.mark.parametrize("members, message", [
    ([("/tmp/evil/run.json", "file")], "absolute path"),
    ([("run-1/run.json", "file"), ("run-1/../../escape.txt", "file")], "'..'"),
    ([("run-1/run.json", "file"), ("run-1/link", "symlink")], "links and devices"),
    ([("run-1/run.json", "file"), ("run-1/dev", "device")], "links and devices"),
    ([("a/run.json", "file"), ("b/run.json", "file")], "one run folder"),
    ([("run-1/notes.txt", "file")], "not a workbench run archive"),
])
def test_import_refuses_hostile_archives(tmp_path, capsys, members, message):
    runs = tmp_path / "runs"
    code, _, err = cli(capsys, "import", hostile(tmp_path, members), "--runs-dir", str(runs))
    assert code == 2 and message in err
    assert not (tmp_path / "escape.txt").exists()
    assert not runs.exists() or list(runs.rglob("*")) == []  # nothing unpacked, not even a part


def test_stop_sends_sigterm_and_waits(runs_dir, capsys):
    """A stand-in trainer that does what the real one does on SIGTERM: mark stopped, exit."""
    store = RunStore(runs_dir)
    run = write_fake_run(store, "victim", status="running")
    code = (
        "import signal, sys, time\n"
        "from workbench.store import RunStore\n"
        f"run = RunStore({str(runs_dir)!r}).run({run.id!r})\n"
        "run.mark_running()\n"
        "def bye(*_):\n"
        "    run.mark_ended('stopped', 'SIGTERM'); sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, bye)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n")
    p = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                         start_new_session=True)
    try:
        assert p.stdout.readline() == b"ready\n"
        t0 = time.monotonic()
        rc, out, _ = cli(capsys, "stop", run.id[:8], "--runs-dir", str(runs_dir), "--timeout", "20")
        assert rc == 0 and "stopped" in out and time.monotonic() - t0 < 20
        assert p.wait(timeout=10) == 0
        code2, _, err = cli(capsys, "stop", run.id, "--runs-dir", str(runs_dir))
        assert code2 == 2 and "not running" in err
    finally:
        if p.poll() is None:
            p.kill()
