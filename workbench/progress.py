"""Headless console output of a training run.

On a TTY: a rich progress bar (step/total, loss, val loss, tok/s, MFU, ETA) with
messages printed above it. Not on a TTY (a pipe, CI, the run's train.log): one plain
line per log interval, flushed at once. A copy of the plain lines can go to a file.
"""

from __future__ import annotations

import sys
from typing import TextIO

from workbench import keys
from workbench.formatting import SUMMARY_ROWS, fmt_duration, fmt_loss, fmt_rate


def human(n: float | None) -> str:
    return fmt_rate(n, none="n/a")


def duration(s: float | None) -> str:
    return fmt_duration(s, none="n/a")


def loss_text(v: float | None) -> str:
    return fmt_loss(v, none="n/a")


class Console:
    def __init__(self, total_steps: int | None, stream: TextIO | None = None, tty: bool | None = None,
                 copy_to: str | None = None):
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty() if tty is None else tty
        self.total = total_steps or None
        self.copy = open(copy_to, "a", encoding="utf-8") if copy_to else None  # noqa: SIM115
        self.bar = None
        self.task = None
        self.val_loss: float | None = None
        self.val_step: int | None = None  # the step val_loss was measured at (None: a resume's best)
        self.last: tuple | None = None  # the latest update's step, loss, tok/s, MFU, ETA

    # --- lifecycle
    def start(self, title: str, first_step: int = 0, val_loss: float | None = None) -> None:
        """val_loss: the best so far when a run resumes, shown until the next evaluation."""
        self.val_loss = val_loss
        self.message(title)
        if self.tty:
            from rich.console import Console as RichConsole
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self.bar = Progress(
                TextColumn("[bold]step"), MofNCompleteColumn(), BarColumn(),
                TextColumn("{task.fields[info]}"), TextColumn("[bold yellow]{task.fields[phase]}"),
                console=RichConsole(file=self.stream), transient=False, refresh_per_second=4)
            self.bar.start()
            self.task = self.bar.add_task("train", total=self.total, completed=first_step,
                                          info="starting…", phase="")

    def close(self) -> None:
        self.close_bar()
        if self.copy:
            self.copy.close()
            self.copy = None

    # --- output
    def _plain(self, line: str) -> None:
        if self.copy:
            self.copy.write(line + "\n")
            self.copy.flush()

    def message(self, text: str) -> None:
        """A line above the bar (or a plain line)."""
        self._plain(text)
        if self.bar is not None:
            self.bar.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=self.stream, flush=True)

    def update(self, step: int, loss: float | None, tok_s: float | None, mfu: float | None,
               eta_s: float | None, val_loss: float | None = None) -> None:
        if val_loss is not None:
            self.val_loss = val_loss
        self.last = (step, loss, tok_s, mfu, eta_s)
        fields = self._fields()
        total = f"/{self.total}" if self.total else ""
        line = f"step {step}{total} | " + fields.replace("  ", " | ")
        self._plain(line)
        if self.bar is not None:
            self.bar.update(self.task, completed=step, info=fields)
        else:
            print(line, file=self.stream, flush=True)

    def _fields(self) -> str:
        """The figures after the step; the val loss says its step when it is not this one (a run
        evaluated at step 0 and every 250 steps would otherwise look stuck in between)."""
        step, loss, tok_s, mfu, eta_s = self.last
        mfu_text = "n/a" if mfu is None else f"{100 * mfu:.1f}%"
        val = loss_text(self.val_loss)
        if self.val_step is not None and self.val_step != step:
            val += f" @{self.val_step}"
        return (f"loss {loss_text(loss)}  val {val}  "
                f"{human(tok_s)} tok/s  MFU {mfu_text}  ETA {duration(eta_s)}")

    def phase(self, name: str) -> None:
        """What the trainer does now (keys.PHASES), beside the bar while it is not training;
        plain lines need none: an evaluation prints its own line."""
        if self.bar is not None:
            self.bar.update(self.task, phase="" if name in (keys.TRAINING, keys.STARTING) else f"{name}…")

    def evaluated(self, step: int, train_loss: float, val_loss: float) -> None:
        self.val_loss, self.val_step = val_loss, step
        if self.bar is not None and self.last is not None:
            self.bar.update(self.task, info=self._fields())
        self.message(f"step {step}: train loss {train_loss:.4f}, val loss {val_loss:.4f}")

    def summary(self, status: str, reason: str, summary: dict, run_path: str) -> None:
        """summary: Run.summary, the figures `ls`, `show` and the TUI show (workbench.keys.SUMMARY)."""
        self.close_bar()
        lines = [f"{status} at step {summary.get('step') or 0}" + (f": {reason}" if reason else "")]
        for label, field, fmt in SUMMARY_ROWS:
            if field in ("best_val_loss", "tokens_per_sec", "tokens_per_sec_last", "train_time_s",
                         "wall_time_s"):
                lines.append(f"  {label:<20} {fmt(summary.get(field))}")
        lines.append(f"  {'run folder':<20} {run_path}")
        for line in lines:
            self.message(line)

    def close_bar(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


class NullConsole:
    """A console that shows nothing (tests, library use)."""

    def __getattr__(self, name):
        return lambda *a, **k: None
