"""`workbench attn RUN`: a checkpoint's attention for a prompt, drawn as terminal heatmaps."""

from __future__ import annotations

import argparse
import json
import sys

from workbench.attention_maps import DEFAULT_PROMPT
from workbench.cli import add_runs_dir
from workbench.errors import WorkbenchError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "attn", help="draw a checkpoint's attention weights for a prompt as heatmaps",
        description="Run a prompt through a run's checkpoint and draw the attention weights of one "
                    "layer and head as a heatmap: query tokens down, key tokens across, future "
                    "tokens blank. Give two runs, or --checkpoint twice, to draw them side by side "
                    "on one colour scale.",
        epilog="examples:  workbench attn char-2026 --head all\n"
               "           workbench attn char-2026 --checkpoint init --checkpoint last\n"
               "           workbench attn nopos-2026 pos-2026 --layer 1 --json maps.json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", metavar="RUN", nargs="+", help="run id or unique prefix (one or two runs)")
    p.add_argument("--checkpoint", action="append", metavar="init|best|last|STEP",
                   help="which checkpoint: init (checkpoint.keep_init), best, last or a step kept by "
                        "checkpoint.keep_every (default last; give it twice to compare two)")
    p.add_argument("--prompt", default=DEFAULT_PROMPT, help=f"text to run through the model (default {DEFAULT_PROMPT!r})")
    p.add_argument("--layer", default="0", metavar="L|all", help="layer, counted from 0 (default 0)")
    p.add_argument("--head", default="0", metavar="H|all", help="head, counted from 0, or all side by side (default 0)")
    p.add_argument("--json", metavar="FILE", help="also write the matrices as JSON to FILE ('-': stdout, instead of drawing)")
    p.add_argument("--device", default="cpu", help="device for the forward pass (default cpu)")
    add_runs_dir(p)
    p.set_defaults(func=run)


def sources(args: argparse.Namespace) -> list[tuple[str, str]]:
    """(run, checkpoint) pairs: one run at one or two checkpoints, or two runs at one."""
    ckpts = args.checkpoint or ["last"]
    if len(args.runs) > 2 or len(ckpts) > 2:
        raise WorkbenchError("attn draws at most two things side by side: two runs, or two --checkpoint")
    if len(args.runs) == 2 and len(ckpts) == 2:
        raise WorkbenchError("give two runs or two --checkpoint values, not both")
    return [(r, c) for r in args.runs for c in ckpts]


def run(args: argparse.Namespace) -> int:
    from workbench.checkpoint_files import find_checkpoint, spec_name
    from workbench.store import RunStore

    pairs = sources(args)
    for _, c in pairs:
        spec_name(c)  # a bad --checkpoint fails before torch loads
    store = RunStore(args.runs_dir)
    found = []
    for run_arg, c in pairs:
        r = store.resolve(run_arg)
        found.append((r.id, find_checkpoint(r.checkpoints_dir, c, r.id)))

    from workbench.attention import inspect

    maps = []
    for run_id, ckpt in found:
        if sys.stderr.isatty():
            print(f"loading {run_id} {ckpt.name} ({ckpt.size / 1e6:.1f} MB)…", file=sys.stderr)
        maps.append(inspect(run_id, ckpt, args.prompt, args.layer, args.head, args.device))
    if args.json:
        text = json.dumps({"prompt": args.prompt, "sources": [m.to_dict() for m in maps]})
        if args.json == "-":
            print(text)
            return 0
        with open(args.json, "w") as fh:
            fh.write(text + "\n")

    from rich.console import Console

    from workbench.attention_maps import render

    con = Console(highlight=False)
    con.print(f"[bold]prompt[/] {args.prompt!r}  ·  {len(maps[0].tokens)} tokens",
              markup=True)
    con.print(render(maps, con.width))
    return 0
