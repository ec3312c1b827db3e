"""`workbench sample RUN`: generate text from a run's checkpoint (model module only, no training loop)."""

from __future__ import annotations

import argparse

from workbench.cli import add_runs_dir
from workbench.errors import WorkbenchError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="generate text from a run's checkpoint",
                       description="Generate text from a run's last (or best) checkpoint. Defaults "
                                   "come from the run's [sample] section.")
    p.add_argument("run", metavar="RUN", help="run id or unique prefix")
    p.add_argument("--prompt", help="text to continue (default: the run's sample.prompt)")
    p.add_argument("--tokens", type=int, help="tokens to generate (default: sample.max_new_tokens)")
    p.add_argument("--checkpoint", choices=("last", "best"), default="last", help="which checkpoint (default: last)")
    p.add_argument("--temperature", type=float, help="sampling temperature (default: sample.temperature)")
    p.add_argument("--top-k", type=int, help="sample among the k most likely tokens, 0 = all (default: sample.top_k)")
    p.add_argument("--seed", type=int, help="random seed (default: sample.seed)")
    p.add_argument("--device", default="cpu", help="device to sample on (default: cpu)")
    add_runs_dir(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    from workbench.checkpoint import load_model
    from workbench.store import RunStore

    r = RunStore(args.runs_dir).resolve(args.run)
    path = r.checkpoint(args.checkpoint)
    if not path.exists():
        raise WorkbenchError(f"{r.id} has no {args.checkpoint} checkpoint ({path})")
    model, tok, cfg = load_model(path, args.device)
    s = cfg.sample
    prompt = s.prompt if args.prompt is None else args.prompt
    temperature = s.temperature if args.temperature is None else args.temperature
    top_k = s.top_k if args.top_k is None else args.top_k
    n = s.max_new_tokens if args.tokens is None else args.tokens
    if temperature <= 0 or n < 0:
        raise WorkbenchError("--temperature must be positive and --tokens not negative")
    seed = s.seed if args.seed is None else args.seed
    print(prompt + model.generate_text(tok, tok.encode(prompt), n, temperature, top_k, seed))
    return 0
