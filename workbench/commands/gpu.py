"""`workbench gpu`: the host's GPUs now and which runs use them (NVML; no torch import)."""

from __future__ import annotations

import argparse
import json

from workbench.cli import add_runs_dir
from workbench.formatting import fmt_bytes
from workbench.gpus import list_gpus, match_runs, nvml_error


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gpu", help="show the host's GPUs now and which runs use them",
                       description="Show each NVIDIA GPU on this host (utilization, memory, "
                                   "temperature, power, SM clock, throttle reasons, compute "
                                   "processes) and the running runs whose processes use it. "
                                   "Reads NVML directly, so it answers at once.")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_runs_dir(p)
    p.set_defaults(func=run)


def _running_runs(runs_dir: str) -> list:
    try:
        from workbench.store import RunStore

        return RunStore(runs_dir).list_runs(status="running")
    except Exception:  # no store folder, unreadable run.json: GPUs still show
        return []


def _num(v: float | None, fmt: str, unit: str) -> str:
    return "-" if v is None else f"{v:{fmt}}{unit}"


def run(args: argparse.Namespace) -> int:
    gpu_list = list_gpus()
    runs = _running_runs(args.runs_dir) if gpu_list else []
    used_by = match_runs(gpu_list, runs) if gpu_list else {}
    pid_run = {}
    for r in runs:
        if r.pid:
            pid_run[r.pid] = r.id
    if args.json:
        error = None if gpu_list else (nvml_error() or "NVML found no GPU")
        print(json.dumps({"gpus": [dict(g.to_dict(), runs=used_by.get(g.index, [])) for g in gpu_list],
                          "error": error}, indent=2))
        return 0
    if not gpu_list:
        reason = nvml_error()
        if reason:
            print(f"no NVIDIA GPU found (NVML unavailable): {reason}")
        else:
            print("no NVIDIA GPU found (NVML works but reports no devices)")
        return 0
    for g in gpu_list:
        mem = (f"{fmt_bytes(g.mem_used_bytes)} / {fmt_bytes(g.mem_total_bytes)}"
               if g.mem_total_bytes is not None else "-")
        power = _num(g.power_w, ".0f", " W")
        if g.power_limit_w is not None and g.power_w is not None:
            power += f" / {g.power_limit_w:.0f} W"
        print(f"GPU {g.index}  {g.name or '?'}")
        print(f"  util {_num(g.util_pct, '.0f', '%')}  mem {mem}  temp {_num(g.temp_c, '.0f', '°C')}  "
              f"power {power}  SM {_num(g.sm_clock_mhz, '.0f', ' MHz')}")
        reasons = [r for r in (g.throttle_reasons or []) if r != "idle"]
        if reasons:
            print(f"  clocks limited by: {', '.join(reasons)}")
        runs_here = used_by.get(g.index, [])
        print(f"  runs: {', '.join(runs_here) if runs_here else '-'}")
        if g.processes:
            for pid, used in g.processes:
                tag = f"  run {pid_run[pid]}" if pid in pid_run else ""
                print(f"    pid {pid:<8} {fmt_bytes(used) if used is not None else '?':>9}{tag}")
        else:
            print("    no compute processes")
    return 0
