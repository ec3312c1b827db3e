"""The `workbench` command: no arguments opens the TUI, subcommands do the rest.

Each subcommand lives in workbench/commands/<name>.py and defines `register(subparsers)`.
Heavy imports (torch, textual) happen inside the commands that need them, so the
store-reading commands answer at once.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

from workbench import __version__
from workbench.errors import WorkbenchError

DEFAULT_RUNS_DIR = "runs"
# commands that only read or change existing runs: a --runs-dir that is not there is a mistake
# (not diff: two experiment files need no store; a run id in it is looked up and reported there)
READS_RUNS = {"ls", "show", "compare", "export", "rm", "stop", "resume", "fork", "sample", "attn", "tag", "note"}

# Order in `workbench --help`; modules not listed come after, alphabetically.
ORDER = ["init", "run", "resume", "fork", "ls", "show", "tag", "note", "compare", "diff", "config", "stop", "queue", "sweep", "sample",
         "rm", "export", "import", "gpu", "bench", "profile"]


def add_overrides(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, value parsed as TOML (repeatable): --set train.lr=3e-4")


def add_launch(parser: argparse.ArgumentParser) -> None:
    """--nproc and torchrun's multi-node options (`run` and `bench`)."""
    g = parser.add_argument_group("data-parallel (torchrun)")
    g.add_argument("--nproc", type=int, metavar="N",
                   help="processes on this node, one per GPU (sets system.nproc); above 1 starts them under torchrun")
    g.add_argument("--nnodes", type=int, default=1, metavar="N", help="machines in the run (default 1)")
    g.add_argument("--node-rank", type=int, default=0, metavar="R",
                   help="this machine's number, 0..nnodes-1; node 0 records the run (default 0)")
    g.add_argument("--rdzv-endpoint", metavar="HOST:PORT",
                   help="torchrun's c10d rendezvous, the same on every machine (needed with --nnodes)")


def add_runs_dir(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """--runs-dir works before or after the command; SUPPRESS keeps a subcommand from
    overwriting the value given before it."""
    default = os.environ.get("WORKBENCH_RUNS_DIR", DEFAULT_RUNS_DIR) if top else argparse.SUPPRESS
    parser.add_argument("--runs-dir", default=default,
                        help="the run store folder (default: $WORKBENCH_RUNS_DIR or ./runs)")


def command_modules() -> list[str]:
    import workbench.commands as pkg

    names = [m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_")]
    return sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Train small GPT models and watch them learn. With no command, opens the "
                    "TUI on experiments/ and runs/ in the current folder.",
        epilog="Run `workbench COMMAND --help` for a command's options.")
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    add_runs_dir(parser, top=True)
    parser.add_argument("--experiments-dir", default="experiments",
                        help="folder of experiment TOML files the TUI lists (default: ./experiments)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in command_modules():
        importlib.import_module(f"workbench.commands.{name}").register(sub)
    return parser


def add_words(parser: argparse.ArgumentParser, name: str, metavar: str, text: str) -> None:
    """Free words that may start with '-' (`tag RUN -old`, a note): argparse.REMAINDER takes them
    as they are; take_runs_dir() gives back a --runs-dir written among them."""
    parser.add_argument(name, nargs=argparse.REMAINDER, metavar=metavar, help=text)
    parser.set_defaults(words_dest=name)


def take_runs_dir(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """`workbench tag RUN +x --runs-dir DIR`: the REMAINDER words swallowed --runs-dir DIR (and
    --help, which is never a tag or a note)."""
    dest = getattr(args, "words_dest", None)
    words = list(getattr(args, dest, None) or []) if dest else []
    if "--help" in words:
        parser.parse_args([args.command, "--help"])  # prints the command's help and exits
    for i, w in enumerate(words):
        if w == "--runs-dir" and i + 1 < len(words):
            args.runs_dir = words[i + 1]
            del words[i:i + 2]
            break
        if w.startswith("--runs-dir="):
            args.runs_dir = w.split("=", 1)[1]
            del words[i]
            break
    if dest:
        setattr(args, dest, words)


def check_runs_dir(args: argparse.Namespace, argv: list[str] | tuple = ()) -> None:
    """Readers need the store to be there; writers (`run`, the TUI, `import`) create it. The
    default ./runs may not exist yet (`ls` says how to start one); a folder named with
    --runs-dir or $WORKBENCH_RUNS_DIR must."""
    from pathlib import Path

    folder = getattr(args, "runs_dir", DEFAULT_RUNS_DIR)
    if args.command in READS_RUNS and folder != DEFAULT_RUNS_DIR and not Path(folder).is_dir():
        named = any(a == "--runs-dir" or a.startswith("--runs-dir=") for a in argv)
        where = f"--runs-dir {folder}" if named or "WORKBENCH_RUNS_DIR" not in os.environ else \
            f"$WORKBENCH_RUNS_DIR={folder}"
        raise WorkbenchError(f"{where}: no such folder; give the folder that holds the run folders "
                             f"(default ./runs), or create this one with a first run: "
                             f"`workbench run EXPERIMENT.toml --runs-dir {folder}` "
                             "(`workbench init` writes example experiments)")


def open_tui(args: argparse.Namespace) -> int:
    from workbench.tui.app import run_app

    return run_app(runs_dir=args.runs_dir, experiments_dir=args.experiments_dir)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    command: list[str] = []
    if "--" in argv:  # `workbench run [options] -- CMD ARG …`: CMD's own options stay its own
        cut = argv.index("--")
        argv, command = argv[:cut], argv[cut + 1:]
    args = parser.parse_args(argv)
    if command and not getattr(args, "takes_command", False):
        parser.error("only `workbench run` takes a command after --")
    args.cmd_argv = command
    func = getattr(args, "func", open_tui)
    try:
        take_runs_dir(args, parser)
        check_runs_dir(args, argv)
        return func(args) or 0
    except WorkbenchError as e:
        print(f"workbench: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `workbench ls | head`
        return 0
