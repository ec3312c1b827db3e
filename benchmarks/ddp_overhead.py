"""DistributedDataParallel's own cost: tok/s of `workbench bench X` without DDP against
`workbench bench X --nproc 1` (one rank under torchrun, wrapped in DDP: NCCL on a GPU,
gloo on the CPU), alternating, and with --nproc 2 for the scaling on this machine.
Budget on one GPU: DDP/plain >= 0.98.

    python benchmarks/ddp_overhead.py                                   # experiments/tiny.toml
    python benchmarks/ddp_overhead.py experiments/char.toml --steps 100 --repeats 3 --two

Each measurement is a fresh `python -m workbench bench … --json FILE` process (the median
step of --steps timed steps after warmup); plain and DDP runs alternate so drift in the
machine's speed hits both. The ratio is median(DDP tok/s) / median(plain tok/s).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def bench(experiment: str, steps: int, nproc: int | None, sets: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        cmd = [sys.executable, "-m", "workbench", "bench", experiment, "--steps", str(steps), "--json", str(out)]
        cmd += (["--nproc", str(nproc)] if nproc else []) + [a for s in sets for a in ("--set", s)]
        subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, timeout=900)
        return json.loads(out.read_text())["results"][0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("experiment", nargs="?", default="experiments/tiny.toml")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--two", action="store_true", help="also measure --nproc 2 (scaling)")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args()
    kinds = {"plain": None, "ddp1": 1, **({"ddp2": 2} if args.two else {})}
    tok: dict[str, list[float]] = {k: [] for k in kinds}
    device = ""
    for i in range(args.repeats):
        for kind, nproc in kinds.items():
            r = bench(args.experiment, args.steps, nproc, args.sets)
            tok[kind].append(r["tok_per_s"])
            device = device or r["device"]
            print(f"repeat {i + 1} {kind}: {r['tok_per_s']:,.0f} tok/s ({r['ms_per_step']:.2f} ms/step) "
                  f"on {r['device']}", flush=True)
    med = {k: statistics.median(v) for k, v in tok.items()}
    print(f"\n{args.experiment} on {device}, median of {args.repeats}:")
    for k, v in med.items():
        print(f"  {k:6} {v:12,.0f} tok/s  ({v / med['plain']:.3f} x plain)")
    ratio = med["ddp1"] / med["plain"]
    verdict = ("faster than plain: run-to-run noise is larger than DDP's cost here" if ratio > 1.02 else
               "within the 2% budget" if ratio >= 0.98 else "OVER the 2% budget")
    print(f"DDP on one process costs {100 * (1 - ratio):.1f}% ({verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
