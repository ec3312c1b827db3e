"""`workbench export RUN -o run.tar.gz` and `workbench import run.tar.gz` (see workbench/run_archive.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench.cli import add_runs_dir
from workbench.errors import WorkbenchError
from workbench.run_archive import MAX_RATIO, MIN_LIMIT, pack, parse_size, unpack
from workbench.store import RunStore


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="pack a run folder into a .tar.gz",
                       description="Pack runs/<RUN>/ (config, run.json, metrics, checkpoints, log) "
                                   "into a gzipped tar archive that `workbench import` unpacks. "
                                   "Unfinished temp files (a checkpoint being written) are left out.")
    p.add_argument("run", metavar="RUN", help="run id or unique prefix")
    p.add_argument("-o", "--output", help="archive path (default: <run-id>.tar.gz)")
    p.add_argument("--no-checkpoints", action="store_true", help="leave checkpoints/ out (much smaller)")
    add_runs_dir(p)
    p.set_defaults(func=export)

    p = sub.add_parser("import", help="unpack a run archive into the run store",
                       description="Unpack an archive made by `workbench export` into runs/. The "
                                   "archive is checked before anything lands in runs/: one top "
                                   "folder named by a valid run id, no absolute paths, '..', links, "
                                   "devices or duplicate files, not cut short, a complete run "
                                   "(run.json, config.toml), and an unpacked size within the limit. "
                                   "A failed import leaves nothing behind.")
    p.add_argument("archive", help=".tar.gz made by workbench export")
    p.add_argument("--max-size", metavar="SIZE", type=parse_size,
                   help=f"largest unpacked size allowed, e.g. 20G (default: {MAX_RATIO}x the archive's "
                        f"size, at least {MIN_LIMIT // 2**20} MiB)")
    p.add_argument("--as", dest="as_id", metavar="NEW_ID",
                   help="import under this run id (when the archive's id exists here or is not valid)")
    add_runs_dir(p)
    p.set_defaults(func=import_)


def export(args: argparse.Namespace) -> int:
    r = RunStore(args.runs_dir).resolve(args.run)
    if r.info().status == "running":
        print(f"note: {r.id} is still running; the archive holds what is written so far")
    out = Path(args.output or f"{r.id}.tar.gz")
    pack(r, out, checkpoints=not args.no_checkpoints)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


def import_(args: argparse.Namespace) -> int:
    path = Path(args.archive)
    if path.is_dir():
        raise WorkbenchError(f"{path} is a folder; give the .tar.gz file that `workbench export` wrote")
    store = RunStore(args.runs_dir)
    run, got = unpack(path, store, limit=args.max_size, as_id=args.as_id)
    print(f"imported {run.id} into {store.root}/ ({got.files} files, {got.size / 1e6:.1f} MB)")
    return 0
