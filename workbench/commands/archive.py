"""`workbench export RUN -o run.tar.gz` and `workbench import run.tar.gz` (see workbench/run_archive.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench.cli import add_overrides, add_runs_dir
from workbench.errors import WorkbenchError
from workbench.run_archive import MAX_RATIO, MIN_LIMIT, pack, parse_size, unpack
from workbench.store import RunStore


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="pack a run into a .tar.gz, or write it as CSV/JSON, for Hugging Face "
                                      "or TensorBoard",
                       description="Pack runs/<RUN>/ (config, run.json, metrics, checkpoints, log) "
                                   "into a gzipped tar archive that `workbench import` unpacks. "
                                   "Unfinished temp files (a checkpoint being written) are left out. "
                                   "--hf writes the model as a Hugging Face GPT-2 folder; --tensorboard "
                                   "writes the runs' scalars and samples as TensorBoard event files; "
                                   "--csv and --json write the runs' scalars as one long table "
                                   "(run, key, step, tokens, time, value).")
    p.add_argument("run", metavar="RUN", nargs="+",
                   help="run id or unique prefix (several with --tensorboard, --csv, --json)")
    p.add_argument("-o", "--output", help="archive path (default: <run-id>.tar.gz)")
    p.add_argument("--no-checkpoints", action="store_true", help="leave checkpoints/ out (much smaller)")
    p.add_argument("--hf", metavar="DIR", help="write config.json + model.safetensors that transformers' "
                                               "GPT2LMHeadModel.from_pretrained(DIR) loads (extra: hf)")
    p.add_argument("--checkpoint", choices=("last", "best"), default="last",
                   help="with --hf: which checkpoint (default: last)")
    p.add_argument("--tensorboard", metavar="DIR", help="write each run's scalars and samples under "
                                                        "DIR/<run-id>/ as event files (extra: tensorboard)")
    p.add_argument("--csv", metavar="FILE", help="write the runs' scalars as one long CSV table")
    p.add_argument("--json", metavar="FILE", help="the same table as a JSON list of objects")
    p.add_argument("--key", action="append", metavar="KEY",
                   help="with --csv/--json: only this series, e.g. eval/val_loss (repeatable; default: all)")
    add_runs_dir(p)
    p.set_defaults(func=export)

    p = sub.add_parser("import", help="unpack a run archive, or make a run from a nanoGPT ckpt.pt",
                       description="Unpack an archive made by `workbench export` into runs/. The "
                                   "archive is checked before anything lands in runs/: one top "
                                   "folder named by a valid run id, no absolute paths, '..', links, "
                                   "devices or duplicate files, not cut short, a complete run "
                                   "(run.json, config.toml), and an unpacked size within the limit. "
                                   "A failed import leaves nothing behind. A nanoGPT ckpt.pt "
                                   "(detected, or --from nanogpt) becomes a stopped run at its iter_num, "
                                   "optimizer state included: `workbench resume` continues it.")
    p.add_argument("archive", metavar="FILE", help=".tar.gz made by workbench export, or nanoGPT's ckpt.pt")
    p.add_argument("--max-size", metavar="SIZE", type=parse_size,
                   help=f"largest unpacked size allowed, e.g. 20G (default: {MAX_RATIO}x the archive's "
                        f"size, at least {MIN_LIMIT // 2**20} MiB)")
    p.add_argument("--as", dest="as_id", metavar="NEW_ID",
                   help="import under this run id (when the archive's id exists here or is not valid)")
    p.add_argument("--from", dest="source", choices=("archive", "nanogpt"),
                   help="what FILE is (default: a PyTorch file or *.pt is nanoGPT's, else an archive)")
    p.add_argument("--name", help="nanoGPT: experiment name for the run id (default: nanogpt-<dataset>)")
    p.add_argument("--no-optimizer", action="store_true", help="nanoGPT: leave its optimizer state out")
    add_overrides(p)
    add_runs_dir(p)
    p.set_defaults(func=import_)


def export(args: argparse.Namespace) -> int:
    store = RunStore(args.runs_dir)
    if args.csv or args.json:
        return export_table(args, store)
    if args.key:
        raise WorkbenchError("--key goes with --csv or --json")
    if args.hf or args.tensorboard:
        return export_format(args, store)
    if len(args.run) > 1:
        raise WorkbenchError("an archive holds one run: give one RUN (several go with --tensorboard)")
    r = store.resolve(args.run[0])
    if r.info().status == "running":
        print(f"note: {r.id} is still running; the archive holds what is written so far")
    out = Path(args.output or f"{r.id}.tar.gz")
    pack(r, out, checkpoints=not args.no_checkpoints)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


def export_table(args: argparse.Namespace, store: RunStore) -> int:
    """--csv and --json: the chosen series of the chosen runs, one row per point."""
    from workbench.formats.table import write

    if sum(bool(x) for x in (args.csv, args.json, args.hf, args.tensorboard, args.output)) > 1:
        raise WorkbenchError("give one of -o (an archive), --csv FILE, --json FILE, --hf DIR or --tensorboard DIR")
    runs = [store.resolve(ref) for ref in args.run]
    out = Path(args.csv or args.json)
    n = write(runs, out, "csv" if args.csv else "json", args.key)
    print(f"wrote {out} ({n:,} rows from {len(runs)} run{'s' if len(runs) > 1 else ''})")
    return 0


def export_format(args: argparse.Namespace, store: RunStore) -> int:
    """--hf and --tensorboard: the writers live in workbench/formats/."""
    if (args.hf and args.tensorboard) or args.output or args.no_checkpoints:
        raise WorkbenchError("give one of -o (an archive), --hf DIR or --tensorboard DIR")
    runs = [store.resolve(ref) for ref in args.run]
    if args.hf:
        if len(runs) != 1:
            raise WorkbenchError("--hf writes one run's model: give one RUN")
        from workbench.formats.hf_gpt2 import export_run

        out = export_run(runs[0], Path(args.hf), args.checkpoint)
        print(f"wrote {out}/config.json and {out}/model.safetensors ({runs[0].id}, {args.checkpoint} "
              f"checkpoint); load with transformers' GPT2LMHeadModel.from_pretrained({str(out)!r})")
        return 0
    from workbench.formats.tensorboard import export_run

    for r in runs:
        folder, n_scalars, n_samples = export_run(r, Path(args.tensorboard))
        print(f"wrote {folder}/ ({n_scalars:,} scalars, {n_samples} samples)")
    print(f"view with: tensorboard --logdir {args.tensorboard}")
    return 0


def _is_torch_file(path: Path) -> bool:
    """torch.save's zip (or older pickle) format, or a checkpoint's usual suffix: a nanoGPT
    ckpt.pt. Anything else goes to the archive reader and its errors."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
    except OSError:
        head = b""
    return head == b"PK" or head[:1] == b"\x80" or path.suffix in (".pt", ".pth", ".ckpt")


def import_(args: argparse.Namespace) -> int:
    path = Path(args.archive)
    if path.is_dir():
        raise WorkbenchError(f"{path} is a folder; give the .tar.gz file that `workbench export` wrote")
    store = RunStore(args.runs_dir)
    if args.source == "nanogpt" or (args.source is None and _is_torch_file(path)):
        from workbench.formats.nanogpt import import_checkpoint

        run, step = import_checkpoint(path, store, args.name, args.overrides, not args.no_optimizer)
        print(f"imported {path} as {run.id} in {store.root}/ (stopped at step {step}); "
              f"`workbench resume {run.id}` continues it")
        return 0
    if args.overrides or args.name or args.no_optimizer:
        raise WorkbenchError("--set, --name and --no-optimizer are for nanoGPT checkpoints, not run archives")
    run, got = unpack(path, store, limit=args.max_size, as_id=args.as_id)
    print(f"imported {run.id} into {store.root}/ ({got.files} files, {got.size / 1e6:.1f} MB)")
    return 0
