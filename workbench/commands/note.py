"""`workbench note RUN [TEXT…]`: set a run's note ("" clears it); no text prints it."""

from __future__ import annotations

import argparse

from workbench import labels
from workbench.cli import add_runs_dir, add_words
from workbench.store import RunStore


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("note", help="set a run's note (\"\" clears it); no text prints it",
                       description="Keep a note with a run: what it was for, what came of it. "
                                   "`workbench show` and the TUI show it. It is kept in "
                                   "runs/<id>/labels.json, so a running run can have one as well. "
                                   f"At most {labels.NOTE_MAX} characters, no control characters.",
                       epilog='examples: workbench note bf16-2026 "lr too high, see fp32 run"   |   '
                              'workbench note bf16-2026 ""   (clears it)')
    p.add_argument("run", metavar="RUN", help="run id or unique prefix")
    add_words(p, "text", "TEXT", "the note (words are joined with spaces); \"\" clears it; none prints it")
    add_runs_dir(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    r = RunStore(args.runs_dir).resolve(args.run)
    if not args.text:
        got = labels.for_run(r.path, [])
        if got.problem:
            print(f"{r.id}: {got.problem}; ignored")
        else:
            print(got.note if got.note else f"{r.id} has no note")
        return 0
    text = " ".join(args.text).strip()
    labels.set_note(r.path, text)
    print(f"{r.id}: note cleared" if not text else f"{r.id}: note saved ({len(text)} characters)")
    return 0
