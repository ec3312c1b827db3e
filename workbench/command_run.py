"""`workbench run -- CMD` and `[command]` experiments: run any command and record it.

The command runs in its own process group (its own session), stdin from /dev/null,
stdout and stderr through a pipe into train.log (and onto this terminal when run in
the foreground). Its printed lines are read for scalars (capture.py) and recorded
through the recording API; the telemetry of its process tree is sampled.

run.json: pid is this runner (it outlives the command and writes the end), pgid the
command's process group (what the GPU panel matches processes by). A stop (SIGTERM or
SIGINT to the runner: `workbench stop`, the TUI's x, Ctrl-C) is passed to the command's
group, SIGKILL follows after `stop_grace` seconds, and the run ends `stopped` (SIGHUP, a
lost terminal, too).
Otherwise the command's exit code decides: 0 finished, anything else failed. The runner
exits with the command's code (128 + N when a signal N ended it).
"""

from __future__ import annotations

import codecs
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from workbench.capture import Capture
from workbench.command_file import CommandSpec
from workbench.recording import COMMAND_RUN_ENV, Recorder
from workbench.store import Run, RunStore, write_text_atomic


def git_diff(folder: str) -> str:
    """The uncommitted changes (tracked files) of the repo holding `folder`, or ''."""
    try:
        p = subprocess.run(["git", "-C", folder, "diff", "HEAD"], capture_output=True, text=True, timeout=10)
        return p.stdout if p.returncode == 0 else ""
    except (OSError, subprocess.TimeoutExpired):
        return ""


def create_command_run(store: RunStore, spec: CommandSpec, run_id: str | None = None) -> Run:
    """The run folder: config.toml (argv, cwd, env), run.json, git.diff when the folder has changes."""
    run_id = run_id or store.new_run_id(spec.name)
    run = store.create_free_run(run_id, spec.config(), kind="command", name=spec.name, folder=spec.cwd,
                                argv=list(spec.argv), cwd=spec.cwd, env=spec.recorded_env(),
                                tags=list(spec.tags), experiment_file=spec.experiment_file)
    diff = git_diff(spec.cwd)
    if diff:
        write_text_atomic(run.path / "git.diff", diff)
    return run


class Runner:
    """Runs one command into one run; `execute()` returns the exit code to pass on."""

    def __init__(self, run: Run, spec: CommandSpec, echo: bool):
        self.run, self.spec, self.echo = run, spec, echo
        self.capture = Capture.with_regexes(spec.capture, where="capture")
        self.stop_signal: int | None = None
        self.kill_at: float | None = None
        self.proc: subprocess.Popen | None = None
        self._max_steps: int | None = None

    def _on_signal(self, signum, frame) -> None:
        if self.stop_signal is not None:  # a second Ctrl-C: no more waiting
            self.kill_at = time.monotonic()
            return
        self.stop_signal = signum
        self.kill_at = time.monotonic() + self.spec.stop_grace
        # a lost terminal is a stop: the command gets SIGTERM, which training scripts handle
        self._signal_group(signal.SIGTERM if signum == signal.SIGHUP else signum)

    def _signal_group(self, signum: int) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signum)
            except (ProcessLookupError, PermissionError):
                pass

    def execute(self) -> int:
        self.run.mark_running()
        rec = Recorder(self.run)
        # SIGHUP: the terminal of a foreground run went away (an SSH link dropped)
        old = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
        try:
            code = self._run(rec)
        finally:
            for s, h in old.items():
                signal.signal(s, h)
        return code

    def _run(self, rec: Recorder) -> int:
        env = dict(os.environ, PYTHONUNBUFFERED="1", **self.spec.env)
        env[COMMAND_RUN_ENV] = str(self.run.path.resolve())  # workbench.init in the command records here
        try:
            self.proc = subprocess.Popen(self.spec.argv, cwd=self.spec.cwd, env=env, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                         start_new_session=True, bufsize=0)
        except OSError as e:
            rec.event("error", f"cannot start {self.spec.argv[0]}: {e}")
            rec.finish("failed", f"cannot start {self.spec.argv[0]}: {e.strerror or e}")
            if self.echo:
                print(f"workbench: error: cannot start {self.spec.argv[0]}: {e.strerror or e}", file=sys.stderr)
            return 127 if isinstance(e, FileNotFoundError) else 126
        self.run.update_info(pgid=self.proc.pid)
        rec.event("start", f"started {' '.join(self.spec.argv)[:300]} in {self.spec.cwd} "
                           f"(pid {self.proc.pid})", step=0)
        if self.spec.telemetry_interval:
            rec.start_telemetry(self.spec.telemetry_interval, root_pid=self.proc.pid)
        if self.stop_signal is not None:  # a stop arrived before the command existed
            self._signal_group(self.stop_signal)
        self._pump(rec)
        rc = self.proc.wait()
        return self._end(rec, rc)

    def _pump(self, rec: Recorder) -> None:
        """Copy the command's output to train.log (and the terminal), reading scalars from it."""
        fd = self.proc.stdout.fileno()
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        pending = ""
        with open(self.run.log_path, "ab") as log:
            while True:
                if self.kill_at is not None and time.monotonic() >= self.kill_at:
                    self._signal_group(signal.SIGKILL)
                    self.kill_at = None
                try:
                    ready, _, _ = select.select([fd], [], [], 0.2)
                except InterruptedError:
                    continue
                if not ready:
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                log.write(chunk)
                log.flush()
                if self.echo:
                    self._show(chunk)
                pending += decoder.decode(chunk)
                cut = max(pending.rfind("\n"), pending.rfind("\r"))
                if cut >= 0:
                    self._read_lines(rec, pending[:cut + 1])
                    pending = pending[cut + 1:]
            self._read_lines(rec, pending + decoder.decode(b"", final=True))

    def _show(self, chunk: bytes) -> None:
        try:
            sys.stdout.buffer.write(chunk)
            sys.stdout.flush()
        except OSError:  # the terminal is gone: train.log still gets everything
            self.echo = False

    def _read_lines(self, rec: Recorder, text: str) -> None:
        for point in self.capture.feed(text):
            rec.log(point.values, step=point.step)
        if self.capture.max_steps and self.capture.max_steps != self._max_steps:
            self._max_steps = self.capture.max_steps
            self.run.update_info(max_steps=self._max_steps)

    def _end(self, rec: Recorder, rc: int) -> int:
        code = rc if rc >= 0 else 128 - rc
        how = f"exited with code {rc}" if rc >= 0 else f"was killed by {signal.Signals(-rc).name}"
        if self.stop_signal is not None:
            status, reason = "stopped", f"stopped by {signal.Signals(self.stop_signal).name}; the command {how}"
        elif rc == 0:
            status, reason = "finished", ""
        else:
            status, reason = "failed", f"the command {how}"
        rec.event("end", f"{' '.join(self.spec.argv)[:200]}: {how}")
        rec.finish(status, reason)
        if self.echo:
            print(f"workbench: {self.run.id} {status}" + (f" ({reason})" if reason else "")
                  + f"; recorded in {self.run.path}", file=sys.stderr)
        return code


def run_command(store: RunStore, spec: CommandSpec, run_id: str | None = None, echo: bool = True) -> int:
    run = create_command_run(store, spec, run_id)
    if echo:
        print(f"workbench: recording {' '.join(spec.argv)} as {run.id} (output in {run.log_path})",
              file=sys.stderr, flush=True)
    return Runner(run, spec, echo).execute()


def spec_from_args(argv: list[str], name: str | None, cwd: str | None, env_names: list[str],
                   capture: list[str]) -> CommandSpec:
    """`workbench run [--name N] [--cwd D] [--env NAME]… [--capture RE]… -- CMD …`"""
    folder = Path(cwd or os.getcwd()).resolve()
    default = Path(argv[1]).stem if len(argv) > 1 and Path(argv[0]).name.startswith("python") else Path(argv[0]).name
    return CommandSpec(argv=list(argv), cwd=str(folder), name=name or default or "command",
                       record_env=list(env_names), capture=list(capture))


def test_capture(capture: Capture, stream) -> int:
    """`workbench run --test-capture -- CMD < log`: what would be read, nothing run."""
    n = 0
    for line in stream:
        for point in capture.feed(line):
            n += 1
            print(f"step {point.step:>8}  " + "  ".join(f"{k}={v:.6g}" for k, v in point.values.items()))
    print(f"{n} points" + (f"; max steps {capture.max_steps}" if capture.max_steps else ""))
    return 0


def main(args, store: RunStore) -> int:
    """`workbench run` for a command: -- CMD, a [command] file, or --test-capture."""
    from workbench.command_file import load_command
    from workbench.errors import WorkbenchError

    argv = getattr(args, "cmd_argv", None) or []
    if args.experiment and argv:
        raise WorkbenchError("give an experiment file or a command after --, not both")
    if args.overrides or args.resume:
        raise WorkbenchError("--set and --resume are for experiment files; a command takes its "
                             "options after --")
    if args.experiment:
        spec = load_command(args.experiment)
        if args.name:
            spec.name = args.name
        spec.capture += args.capture
        spec.record_env += args.env_names
    else:
        if not argv and not args.test_capture:
            raise WorkbenchError("name the command after --, e.g. `workbench run -- python train.py`")
        spec = spec_from_args(argv or ["-"], args.name, args.cwd, args.env_names, args.capture)
        if not Path(spec.cwd).is_dir():
            raise WorkbenchError(f"--cwd {args.cwd}: no such folder")
    capture = Capture.with_regexes(spec.capture)  # bad regexes are bad input before any run exists
    if args.test_capture:
        return test_capture(capture, sys.stdin)
    return run_command(store, spec, run_id=args.run_id, echo=not args.run_id)
