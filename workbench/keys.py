"""What a run records and what its summary figures mean: the one place for both.

The trainer writes these keys into metrics.sqlite (workbench/metrics.py); the store
derives the summary from them (Run.summary); the CLI and the TUI read both. Any
script that records through the store may add its own keys: viewers show every key
they find, and describe the ones named here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# ---------------------------------------------------------------- scalars (table `scalars`, by step)

TRAIN_LOSS = "train/loss"            # mean training loss of the logging window
TRAIN_LR = "train/lr"
TRAIN_GRAD_NORM = "train/grad_norm"  # before clipping, last step of the window
EVAL_TRAIN_LOSS = "eval/train_loss"
EVAL_VAL_LOSS = "eval/val_loss"
TOK_PER_S = "perf/tok_per_s"              # the last logging window
TOK_PER_S_MEAN = "perf/tok_per_s_mean"    # the run so far (see SUMMARY["tokens_per_sec"])
STEP_MS = "perf/step_ms"
MFU = "perf/mfu"
COMPILE_S = "perf/compile_s"
EVAL_S = "perf/eval_s"
SAMPLE_S = "perf/sample_s"
TRAIN_TIME_S = "time/train_s"   # elapsed training time so far (see SUMMARY["train_time_s"])
ETA_S = "time/eta_s"            # seconds left when it was logged, from one smoothed rate

# ---------------------------------------------------------------- what the trainer is doing (table `events`)
# An event of kind PHASE whose message is one of PHASES, recorded only when the phase changes
# (no per-step cost): viewers say "evaluating…" while the step counter waits.

PHASE = "phase"
STARTING = "starting"            # data, model, checkpoint: before the loop
TRAINING = "training"
EVALUATING = "evaluating"
SAMPLING = "sampling"
CHECKPOINTING = "checkpointing"
PHASES = (STARTING, TRAINING, EVALUATING, SAMPLING, CHECKPOINTING)

# ---------------------------------------------------------------- telemetry (table `telemetry`, by time)

GPU_UTIL = "gpu/util"
GPU_MEM_USED = "gpu/mem_used"
GPU_MEM_TOTAL = "gpu/mem_total"
GPU_POWER_W = "gpu/power_w"
GPU_TEMP_C = "gpu/temp_c"
GPU_SM_CLOCK_MHZ = "gpu/sm_clock_mhz"
GPU_THROTTLE = "gpu/throttle"
CPU_PERCENT = "cpu/percent"
CPU_RSS = "cpu/rss_bytes"
CPU_COUNT = "cpu/count"
CPU_OTHERS_SHARE = "cpu/others_share"  # cores busy with other processes / all cores
RAM_USED = "ram/used_bytes"
RAM_TOTAL = "ram/total_bytes"
TORCH_ALLOCATED = "torch/allocated"
TORCH_RESERVED = "torch/reserved"
TORCH_PEAK = "torch/peak"
GPU_COUNT = "gpu/count"          # a script's or command's runs: GPUs that hold one of its processes
GPU_PROC_MEM = "gpu/proc_mem"    # … and the memory its processes hold on them

# A data-parallel run's GPUs: the recorder's is gpu/… and torch/…, rank r's gpu<r>/… and torch<r>/….
RANK_GPU_KEY = re.compile(r"^(gpu|torch)(\d+)/(.+)$")


def rank_key(key: str, rank: int) -> str:
    """'gpu/util' of rank 3 -> 'gpu3/util'."""
    head, _, tail = key.partition("/")
    return f"{head}{rank}/{tail}"


def rank_of_key(key: str) -> int | None:
    """3 for 'gpu3/util'; None for the recorder's own keys and every other key."""
    m = RANK_GPU_KEY.match(key)
    return int(m.group(2)) if m else None


@dataclass(frozen=True)
class Metric:
    label: str    # short, for chart titles and columns
    meaning: str  # one line, for help text and the metric picker
    unit: str = ""


METRICS: dict[str, Metric] = {
    TRAIN_LOSS: Metric("train loss", "mean training loss over the logging window"),
    TRAIN_LR: Metric("lr", "learning rate of the window's last step"),
    TRAIN_GRAD_NORM: Metric("grad norm", "gradient norm before clipping, last step of the window"),
    EVAL_TRAIN_LOSS: Metric("eval train loss", "mean loss on eval.batches fixed training batches"),
    EVAL_VAL_LOSS: Metric("val loss", "mean loss on eval.batches fixed validation batches"),
    TOK_PER_S: Metric("tok/s (window)", "tokens per second over the last logging window", "tok/s"),
    TOK_PER_S_MEAN: Metric("tok/s (mean)", "tokens per second over the run's step time so far", "tok/s"),
    STEP_MS: Metric("step ms", "milliseconds per optimizer step over the last window", "ms"),
    MFU: Metric("MFU", "model FLOPs utilization against the device's dense peak", "%"),
    COMPILE_S: Metric("first step s", "seconds of the first step (torch.compile, warmup)", "s"),
    EVAL_S: Metric("eval s", "seconds one evaluation took", "s"),
    SAMPLE_S: Metric("sample s", "seconds one sample took", "s"),
    TRAIN_TIME_S: Metric("training time", "seconds the trainer has run, all sessions", "s"),
    ETA_S: Metric("ETA", "seconds left when logged, from the smoothed step rate", "s"),
    GPU_UTIL: Metric("GPU util", "GPU utilization", "%"),
    GPU_MEM_USED: Metric("GPU mem", "GPU memory in use (all processes)", "B"),
    GPU_MEM_TOTAL: Metric("GPU mem total", "GPU memory size", "B"),
    GPU_POWER_W: Metric("GPU power", "GPU power draw", "W"),
    GPU_TEMP_C: Metric("GPU temp", "GPU temperature", "°C"),
    GPU_SM_CLOCK_MHZ: Metric("SM clock", "GPU SM clock", "MHz"),
    GPU_THROTTLE: Metric("throttle", "NVML clock-throttle reasons bit mask"),
    CPU_PERCENT: Metric("CPU", "the trainer process's CPU use (100 = one core)", "%"),
    CPU_RSS: Metric("RSS", "the trainer process's resident memory", "B"),
    CPU_COUNT: Metric("CPUs", "logical CPUs on the host"),
    CPU_OTHERS_SHARE: Metric("others' CPU", "share of the host's cores busy with other processes"),
    RAM_USED: Metric("RAM", "host memory in use", "B"),
    RAM_TOTAL: Metric("RAM total", "host memory size", "B"),
    TORCH_ALLOCATED: Metric("torch alloc", "memory held by torch tensors", "B"),
    TORCH_RESERVED: Metric("torch reserved", "memory held by torch's caching allocator", "B"),
    TORCH_PEAK: Metric("torch peak", "peak memory held by torch tensors", "B"),
    GPU_COUNT: Metric("GPUs", "GPUs that hold one of the run's processes (NVML's process list)"),
    GPU_PROC_MEM: Metric("GPU mem (run)", "GPU memory held by the run's processes", "B"),
}


# ---------------------------------------------------------------- other scripts' names for them
# A script that logs `loss` (workbench.log, compat.wandb) or prints `val loss 2.1` (workbench
# run -- CMD) gets the loss chart and the summary: these names are stored under the keys above.
# Lower case, spaces and dashes as underscores (see `normalize`); any other name is kept as given.

ALIASES: dict[str, str] = {
    "loss": TRAIN_LOSS, "train_loss": TRAIN_LOSS, "training_loss": TRAIN_LOSS,
    "val_loss": EVAL_VAL_LOSS, "eval_loss": EVAL_VAL_LOSS, "valid_loss": EVAL_VAL_LOSS,
    "validation_loss": EVAL_VAL_LOSS, "val/loss": EVAL_VAL_LOSS, "eval/loss": EVAL_VAL_LOSS,
    "valid/loss": EVAL_VAL_LOSS,
    "lr": TRAIN_LR, "learning_rate": TRAIN_LR,
    "grad_norm": TRAIN_GRAD_NORM, "gradient_norm": TRAIN_GRAD_NORM,
    "tok/s": TOK_PER_S, "tok_per_s": TOK_PER_S, "tokens_per_sec": TOK_PER_S, "tokens_per_second": TOK_PER_S,
    "mfu": MFU,  # a fraction: a printed "12.3%" is read as 0.123
}


def normalize(name: str) -> str:
    return "_".join(name.strip().lower().replace("-", " ").split())


def store_key(name: str) -> str:
    """The key a logged or printed name is stored under (itself unless it is an alias)."""
    return ALIASES.get(name) or ALIASES.get(normalize(name)) or name


def describe(key: str) -> Metric:
    """The metric named `key`, or a plain description of a key a script made up."""
    return METRICS.get(key) or Metric(key, "recorded by the run")


# ---------------------------------------------------------------- the summary (run.json, ls, show, TUI)
# Each figure is defined here once; Run.summary computes them, every viewer shows them.

SUMMARY: dict[str, str] = {
    "best_val_loss": "lowest eval/val_loss",
    "final_train_loss": "the last train/loss",
    "final_val_loss": "the last eval/val_loss",
    "tokens_per_sec": "tok/s (mean): tokens trained ÷ seconds spent in training steps, over the whole "
                      "run (each session's first step, evaluation, samples and checkpoints left out)",
    "tokens_per_sec_last": "tok/s (window): the last logging window's tokens per second",
    "mfu": "the last window's model FLOPs utilization",
    "peak_memory_bytes": "peak torch memory (else peak GPU memory in use)",
    "train_time_s": "training time: seconds the trainer ran, summed over its sessions (evaluation, "
                    "samples and checkpoints included; time while stopped left out)",
    "wall_time_s": "wall time: from the run's start to its end (or now), time while stopped included",
    "eta_s": "seconds left for a running run, from the trainer's smoothed step rate",
    "params": "parameters",
    "step": "the last step logged",
    "max_steps": "train.max_steps",
}
SUMMARY_FIELDS = tuple(SUMMARY)
