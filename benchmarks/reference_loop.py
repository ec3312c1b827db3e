"""The reference: a plain training loop as a nanoGPT user writes it, on workbench's model.

Literally the same model (workbench.model.build_model), the same AdamW groups, the same
warmup + cosine schedule, grad clip, and batches drawn the same way (workbench.data.Batches:
on the device, no host sync); and nothing else: no logging, store, telemetry, evaluation,
samples or progress output. `workbench run` is measured against this loop
(benchmarks/overhead_vs_reference.py).

    python benchmarks/reference_loop.py experiments/cpu.toml --steps 200 [--skip 10] [--set k=v]

Prints one JSON line: the tok/s and ms/step over steps skip+1..steps (the first `skip`
steps, warmup and compilation, are left out), and the times of each window of
train.log_interval steps (the device is synchronized at window ends only, as a plain
loop that reads its loss every log interval does); on a shared, noisy machine the
median window is the robust figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def reference_loop(cfg, steps: int, skip: int = 10) -> dict:
    """Train `cfg` for `steps` steps in a plain loop; tok/s over the steps after `skip`."""
    import torch

    from workbench.data import Batches, load_dataset
    from workbench.device import resolve
    from workbench.model import build_model, configure_optimizer
    from workbench.schedule import lr_at

    t, m = cfg.train, cfg.model
    setup = resolve(cfg.system)
    device = setup.device
    torch.manual_seed(t.seed)
    ds = load_dataset(cfg.data)
    model = build_model(m, ds.tokenizer.vocab_size).to(device)
    optimizer = configure_optimizer(model, t.weight_decay, t.lr, (t.beta1, t.beta2), setup.fused_optimizer)
    scaler = setup.scaler()
    batches = Batches(ds.train, m.block_size, t.batch_size, device, t.seed, "train")
    fwd = torch.compile(model) if setup.compile else model
    skip = min(skip, max(0, steps - 1))

    window = max(1, t.log_interval)
    windows: list[float] = []  # seconds of each `window` steps after skip (synchronized)
    model.train()
    t0 = time.perf_counter()
    t_start = t_win = t0
    for step in range(steps):
        if step == skip:
            setup.sync()
            t_start = t_win = time.perf_counter()
        elif step > skip and (step - skip) % window == 0:
            setup.sync()  # a plain loop reads its loss every log interval: nanoGPT's one sync
            now = time.perf_counter()
            windows.append(now - t_win)
            t_win = now
        lr = lr_at(step, t)
        for group in optimizer.param_groups:
            group["lr"] = lr
        for i in range(t.grad_accum):
            x, y = batches.draw(step, i)
            with setup.autocast():
                _, loss = fwd(x, y)
                loss = loss / t.grad_accum
            scaler.scale(loss).backward()
        if t.grad_clip > 0:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
    setup.sync()
    t_end = time.perf_counter()
    timed = steps - skip
    tokens_per_step = t.batch_size * m.block_size * t.grad_accum
    span = t_end - t_start
    if (steps - skip) % window == 0 and steps > skip:
        windows.append(t_end - t_win)
    med = statistics.median(windows) if windows else None
    return {"window_steps": window, "window_s": windows,
            "tok_per_s_median_window": window * tokens_per_step / med if med else None,
            "steps": steps, "skip": skip, "timed_steps": timed, "seconds": span,
            "tok_per_s": timed * tokens_per_step / span if span > 0 else None,
            "ms_per_step": 1000 * span / timed if timed else None,
            "final_loss": float(loss.detach().float().item()) * t.grad_accum,
            "wall_s": t_end - t0, "device": setup.device_name}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("experiment", nargs="?", default=str(ROOT / "experiments" / "cpu.toml"))
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--skip", type=int, default=10, help="steps left out of the timing (warmup)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args(argv)
    from workbench.config import load_config

    cfg = load_config(args.experiment, args.overrides)
    print(json.dumps(reference_loop(cfg, args.steps, args.skip)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
