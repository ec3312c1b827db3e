"""On a GPU machine: do a script's runs (workbench.init) and a command's runs (workbench run --
CMD) get the GPU telemetry of their own processes, from NVML's per-process list?

    python benchmarks/recording_gpu_check.py            # prints one block per run

A child script holds an 8192x8192 matrix on cuda:0 and multiplies it for --seconds,
logging its step; once through the API, once as a command whose printed lines are read.
Each block shows the run's status, its telemetry keys and their last values.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = """
import sys, time
import torch
api = sys.argv[1] == "api"
if api:
    import workbench
    workbench.init(config={"n": 8192}, name="gpu-api", runs_dir=sys.argv[2], telemetry_interval=0.5)
x = torch.randn(8192, 8192, device="cuda")
t0, step = time.time(), 0
while time.time() - t0 < float(sys.argv[3]):
    y = x @ x
    torch.cuda.synchronize()
    step += 1
    if api:
        workbench.log({"loss": 1.0 / step}, step=step)
    elif step % 10 == 0:
        print(f"step {step}: loss {1.0 / step:.6f}", flush=True)
"""


def report(runs_dir: Path) -> None:
    from workbench.store import RunStore

    for run in RunStore(runs_dir).runs():
        info = run.info()
        r = run.reader()
        last = r.telemetry_latest()
        steps = r.last("train/loss")
        print(f"{run.id}: {info.kind} {info.status} {info.reason!r}; last step {steps.step if steps else None}")
        for key in sorted(last):
            print(f"  {key:<18} {last[key]:.4g}")
        r.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=6.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        child = Path(tmp) / "child.py"
        child.write_text(textwrap.dedent(CHILD))
        runs = Path(tmp) / "runs"
        for argv in ([sys.executable, str(child), "api", str(runs), str(args.seconds)],
                     [sys.executable, "-m", "workbench", "run", "--runs-dir", str(runs), "--name", "gpu-cmd", "--",
                      sys.executable, str(child), "print", str(runs), str(args.seconds)]):
            p = subprocess.run(argv, capture_output=True, text=True, timeout=args.seconds + 120, cwd=ROOT)
            print(f"$ {' '.join(argv[1:5])} … -> exit {p.returncode}")
            if p.returncode:
                print(p.stdout[-2000:], p.stderr[-2000:])
        report(runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
