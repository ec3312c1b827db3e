"""Attention maps for the TUI from a child process: `workbench attn … --json -`.

The model load and the forward pass need torch, which the TUI never imports; a child
process does them and hands back JSON. Called from a worker thread; it gives up (and
kills the child) when the worker is cancelled or the timeout passes.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from workbench.attention_maps import AttentionMaps
from workbench.errors import WorkbenchError
from workbench.launch import child_command

TIMEOUT_S = 300.0  # a GPT-2-sized checkpoint loads on a CPU in well under this


def attn_argv(runs_dir: Path, run_id: str, checkpoint: str, prompt: str) -> list[str]:
    # --prompt=TEXT: a prompt that starts with '-' is still the prompt (a run id never does)
    return ["--runs-dir", str(runs_dir), "attn", run_id, "--checkpoint", checkpoint, f"--prompt={prompt}",
            "--layer", "all", "--head", "all", "--json", "-"]


def fetch_attention(runs_dir: Path, run_id: str, checkpoint: str, prompt: str,
                    cancelled: Callable[[], bool], timeout: float = TIMEOUT_S) -> AttentionMaps | None:
    """Every layer's and head's map for the prompt, or None when cancelled; WorkbenchError
    with the child's own message when it fails."""
    cmd, env = child_command(attn_argv(runs_dir, run_id, checkpoint, prompt))
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + timeout
    while True:
        try:
            out, err = proc.communicate(timeout=0.2)
            break
        except subprocess.TimeoutExpired:
            if cancelled() or time.monotonic() > deadline:
                proc.kill()
                proc.communicate()
                if cancelled():
                    return None
                raise WorkbenchError(f"workbench attn took longer than {timeout:.0f} s; gave up") from None
    if proc.returncode != 0:
        lines = [ln for ln in err.strip().splitlines() if ln.strip()]
        raise WorkbenchError(lines[-1].removeprefix("workbench: error: ") if lines else
                             f"workbench attn failed (exit {proc.returncode})")
    try:
        return AttentionMaps.from_dict(json.loads(out)["sources"][0])
    except (ValueError, KeyError, IndexError, TypeError) as e:
        raise WorkbenchError(f"workbench attn gave unreadable output ({type(e).__name__})") from None
