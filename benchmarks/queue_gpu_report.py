"""For benchmarks/gpu_check.sh: wait (at most 80 s) for the queued runs of a store to end, then
print, as markdown, where each ran (run.json's GPUs) and its last GPU telemetry.

    python benchmarks/queue_gpu_report.py RUNS_DIR
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workbench.store import RunStore  # noqa: E402


def main() -> int:
    store = RunStore(sys.argv[1])
    deadline = time.time() + 80
    while time.time() < deadline:
        infos = [run.info() for run in store.runs()]
        if infos and all(i.status != "running" for i in infos):
            break
        time.sleep(1)
    print("\n## queue placement (tiny.toml from the queue)\n")
    runs = store.runs()
    if not runs:
        print("no run was started")
        return 1
    for run in runs:
        info, reader = run.info(), run.reader()
        tele = reader.telemetry_latest()
        reader.close()
        print(f"- {info.id}: {info.status} on GPUs {info.gpus} ({info.device_name}); "
              f"gpu/util {tele.get('gpu/util')}, gpu/mem_used {tele.get('gpu/mem_used')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
