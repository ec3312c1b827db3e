"""`workbench init [DIR]`: write the example experiments and a .gitignore for runs/ into DIR."""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench.errors import WorkbenchError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "init", help="write the example experiments (tiny, cpu, char, ladders) into a folder",
        description="Write experiments/ (tiny, cpu and char, the speed ladder fp32 → flash, GPT-2 "
                    "124M and the model ladder) and a .gitignore that ignores runs/ into DIR, so "
                    "`workbench` has something to start. Files that exist are kept unless --force.")
    p.add_argument("folder", nargs="?", default=".", metavar="DIR", help="where to write (default: here)")
    p.add_argument("--force", action="store_true", help="overwrite example files that exist")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.examples_folder import init_folder

    folder = Path(args.folder)
    if folder.exists() and not folder.is_dir():
        raise WorkbenchError(f"{folder} is a file, not a folder: give a folder to write experiments/ into")
    folder.mkdir(parents=True, exist_ok=True)
    report = init_folder(folder, force=args.force)
    where = "" if folder.resolve() == Path.cwd().resolve() else f"cd {args.folder} && "
    print(f"wrote {len(report.written)} experiment files into {folder / 'experiments'}/")
    if report.kept:
        print(f"kept {len(report.kept)} that were there already (--force overwrites): "
              + ", ".join(report.kept[:5]) + (" …" if len(report.kept) > 5 else ""))
    if report.gitignore:
        print(f".gitignore: {report.gitignore} (run folders stay out of git)")
    print(f"next: {where}workbench run experiments/tiny.toml   (a tiny GPT, seconds on a CPU)")
    print(f"  or: {where}workbench                              (the TUI)")
    return 0
