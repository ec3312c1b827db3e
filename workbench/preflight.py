"""What is checked before a run folder exists: the data files and the model's size
(config_checks.check_runnable), the tokenizer's file and the device. Bad input is refused here, in one line, and no run is created for it.

No torch: the TUI's launcher calls this too. The device check asks NVML, which sees
the same GPUs torch would (CUDA_VISIBLE_DEVICES applied); the trainer's own check on
start-up stays the last word.
"""

from __future__ import annotations

import os
import sys

from workbench.config import Config
from workbench.config_checks import check_runnable
from workbench.errors import WorkbenchError


def check(cfg: Config, where: str) -> None:
    check_runnable(cfg, where)  # data files there, model fits
    if cfg.data.tokenizer == "gpt2":
        load_gpt2_bpe()
    check_device(cfg.system.device, where)


def load_gpt2_bpe():
    """The GPT-2 BPE (tiktoken 'r50k_base'); tiktoken reads it from TIKTOKEN_CACHE_DIR, or
    downloads it once where there is a network."""
    try:
        import tiktoken

        return tiktoken.get_encoding("r50k_base")
    except Exception as e:  # noqa: BLE001 - tiktoken raises requests' and its own errors
        where = os.environ.get("TIKTOKEN_CACHE_DIR", "")
        raise WorkbenchError(
            "cannot load the GPT-2 BPE (tiktoken 'r50k_base') without the network "
            f"({type(e).__name__}); set TIKTOKEN_CACHE_DIR to a folder holding the cached BPE file"
            + (f" (it is now {where!r})" if where else "")) from None


def visible_gpus() -> int:
    from workbench.gpus import device_count

    count = device_count()
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        count = min(count, len([v for v in visible.split(",") if v.strip() and v.strip() != "-1"]))
    return count


def check_device(device, where: str) -> None:
    if isinstance(device, list):  # GPU indices of a data-parallel run
        count = visible_gpus()
        if any(i >= count for i in device):
            raise WorkbenchError(f"{where}: 'system.device' is {device} but this machine has "
                                 f"{count} visible GPU{'' if count == 1 else 's'}")
        return
    if device.startswith("cuda"):
        count = visible_gpus()
        index = int(device.split(":", 1)[1]) if ":" in device else 0
        if count == 0:
            raise WorkbenchError(f"{where}: 'system.device' is {device!r} but this machine has no visible "
                                 "NVIDIA GPU; use system.device = \"cpu\" or \"auto\"")
        if index >= count:
            raise WorkbenchError(f"{where}: 'system.device' is {device!r} but there "
                                 f"{'is 1 GPU' if count == 1 else f'are {count} GPUs'} (cuda:0"
                                 f"{'' if count == 1 else f' to cuda:{count - 1}'})")
    if device == "mps" and sys.platform != "darwin":
        raise WorkbenchError(f"{where}: 'system.device' is 'mps', which exists only on Apple machines; "
                             "use \"cpu\" or \"auto\"")
