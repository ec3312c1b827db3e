"""`workbench export RUN -o run.tar.gz` and `workbench import run.tar.gz`."""

from __future__ import annotations

import argparse
import tarfile
from pathlib import Path, PurePosixPath

from workbench.cli import add_runs_dir
from workbench.errors import WorkbenchError
from workbench.store import RunStore, run_id_problem


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="pack a run folder into a .tar.gz",
                       description="Pack runs/<RUN>/ (config, run.json, metrics, checkpoints, log) "
                                   "into a gzipped tar archive that `workbench import` unpacks.")
    p.add_argument("run", metavar="RUN", help="run id or unique prefix")
    p.add_argument("-o", "--output", help="archive path (default: <run-id>.tar.gz)")
    p.add_argument("--no-checkpoints", action="store_true", help="leave checkpoints/ out (much smaller)")
    add_runs_dir(p)
    p.set_defaults(func=export)

    p = sub.add_parser("import", help="unpack a run archive into the run store",
                       description="Unpack an archive made by `workbench export` into runs/. Refuses "
                                   "archives with absolute paths, '..', links or devices, more than one "
                                   "top folder, and a run id that already exists.")
    p.add_argument("archive", help=".tar.gz made by workbench export")
    add_runs_dir(p)
    p.set_defaults(func=import_)


def export(args: argparse.Namespace) -> int:
    r = RunStore(args.runs_dir).resolve(args.run)
    if r.info().status == "running":
        print(f"note: {r.id} is still running; the archive holds what is written so far")
    out = Path(args.output or f"{r.id}.tar.gz")

    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        if args.no_checkpoints and "/checkpoints" in info.name:
            return None
        return None if info.name.endswith(".tmp") else info

    with tarfile.open(out, "w:gz") as tar:
        tar.add(r.path, arcname=r.id, filter=keep)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


def check_members(members: list[tarfile.TarInfo], archive: str) -> str:
    """The single top folder (the run id) of a safe archive; WorkbenchError otherwise."""
    tops = set()
    for m in members:
        p = PurePosixPath(m.name)
        if p.is_absolute() or m.name.startswith(("/", "\\")):
            raise WorkbenchError(f"{archive}: refusing absolute path {m.name!r}")
        if ".." in p.parts:
            raise WorkbenchError(f"{archive}: refusing path with '..': {m.name!r}")
        if not (m.isfile() or m.isdir()):
            raise WorkbenchError(f"{archive}: refusing {m.name!r}: links and devices are not allowed")
        tops.add(p.parts[0])
    if len(tops) != 1:
        raise WorkbenchError(f"{archive}: expected one run folder at the top, found {sorted(tops) or 'none'}")
    top = tops.pop()
    if run_id_problem(top):
        raise WorkbenchError(f"{archive}: {top[:80]!r} is not a valid run id: {run_id_problem(top)}")
    if not any(m.name == f"{top}/run.json" for m in members):
        raise WorkbenchError(f"{archive}: no {top}/run.json inside; not a workbench run archive")
    return top


def import_(args: argparse.Namespace) -> int:
    store = RunStore(args.runs_dir)
    try:
        tar = tarfile.open(args.archive, "r:*")
    except (OSError, tarfile.TarError) as e:
        raise WorkbenchError(f"{args.archive}: cannot read the archive: {e}") from None
    with tar:
        members = tar.getmembers()
        run_id = check_members(members, args.archive)
        if (store.root / run_id).exists():
            raise WorkbenchError(f"{run_id} already exists in {store.root}/; remove it first with "
                                 f"`workbench rm {run_id}`")
        store.ensure()
        for m in members:  # checked above: only plain files and folders inside run_id/
            target = store.root / m.name
            if m.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            src = tar.extractfile(m)
            with open(target, "wb") as out:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
    run = store.run(run_id)
    if run.raw_info().status == "running":  # exported mid-run: no process here owns it
        run.update_info(status="crashed", reason="imported while it was still running", pid=None)
    print(f"imported {run_id} into {store.root}/")
    return 0
