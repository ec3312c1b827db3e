"""The rules a config must keep beyond each key's own type and choices: cross-key checks
(run by config.from_dict on every config), and the checks made just before a run starts
(its files are there, its model fits the machine)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from workbench.errors import WorkbenchError
from workbench.paths import not_a_file

if TYPE_CHECKING:
    from workbench.config import Config, SystemConfig


def validate(cfg: Config, where: str) -> None:
    """Cross-key checks: each says what is wrong and what would work."""

    def fail(msg: str) -> NoReturn:
        raise WorkbenchError(f"{where}: {msg}")

    for check in (_ranges, _model, _train, _system, _data):
        check(cfg, fail)


def _ranges(cfg: Config, fail: Callable[[str], NoReturn]) -> None:
    """Counts and sizes: at least 1, or at least 0 where 0 means off."""
    m = cfg.model
    t = cfg.train
    for dotted, value, low in [
        ("model.n_layer", m.n_layer, 1), ("model.n_head", m.n_head, 1), ("model.n_embd", m.n_embd, 1),
        ("model.block_size", m.block_size, 1), ("model.ffn_mult", m.ffn_mult, 1),
        ("model.vocab_multiple", m.vocab_multiple, 1), ("train.batch_size", t.batch_size, 1),
        ("train.grad_accum", t.grad_accum, 1), ("train.log_interval", t.log_interval, 1),
        ("eval.batches", cfg.eval.batches, 1), ("system.nproc", cfg.system.nproc, 1),
        ("system.gpus", cfg.system.gpus, 0),
        ("model.head_size", m.head_size, 0), ("train.max_steps", t.max_steps, 0),
        ("train.max_tokens", t.max_tokens, 0), ("train.warmup_steps", t.warmup_steps, 0),
        ("train.decay_steps", t.decay_steps, 0), ("eval.interval", cfg.eval.interval, 0),
        ("sample.max_new_tokens", cfg.sample.max_new_tokens, 0), ("sample.top_k", cfg.sample.top_k, 0),
        ("checkpoint.interval", cfg.checkpoint.interval, 0), ("checkpoint.keep_every", cfg.checkpoint.keep_every, 0),
        ("sample.interval", cfg.sample.interval, -1), ("system.threads", cfg.system.threads, 0),
    ]:
        if value < low:
            fail(f"'{dotted}' is {value}; it must be at least {low}")


def _model(cfg: Config, fail: Callable[[str], NoReturn]) -> None:
    """The model's shape fits together."""
    m = cfg.model
    d = cfg.data
    if m.kind == "gpt":
        if m.head_size == 0 and m.n_embd % m.n_head:
            fail(f"'model.n_embd' ({m.n_embd}) must be divisible by 'model.n_head' ({m.n_head}); "
                 f"try n_embd = {m.n_head * max(1, round(m.n_embd / m.n_head))} or set model.head_size")
        if not m.attn_proj and m.n_head * cfg.head_size != m.n_embd:
            fail(f"without 'model.attn_proj' the heads' concatenated width (n_head * head_size = "
                 f"{m.n_head * cfg.head_size}) must equal 'model.n_embd' ({m.n_embd})")
    if not 0.0 <= m.dropout < 1.0:
        fail(f"'model.dropout' is {m.dropout}; use a value in [0, 1)")
    if not 0.0 < d.val_fraction < 1.0:
        fail(f"'data.val_fraction' is {d.val_fraction}; use a value between 0 and 1, like 0.1")


def _train(cfg: Config, fail: Callable[[str], NoReturn]) -> None:
    """Optimizer, schedule and stopping."""
    t = cfg.train
    if t.lr <= 0:
        fail(f"'train.lr' is {t.lr}; it must be positive, like 3e-4")
    if t.min_lr < 0 or t.min_lr > t.lr:
        fail(f"'train.min_lr' ({t.min_lr}) must be between 0 and 'train.lr' ({t.lr})")
    if t.max_time < 0 or t.weight_decay < 0 or t.grad_clip < 0:
        fail("'train.max_time', 'train.weight_decay' and 'train.grad_clip' must not be negative")
    if not (0 <= t.beta1 < 1 and 0 <= t.beta2 < 1):
        fail(f"AdamW betas must be in [0, 1); got beta1={t.beta1}, beta2={t.beta2}")
    if t.max_steps == 0 and t.max_tokens == 0 and t.max_time == 0:
        fail("nothing stops this run: set 'train.max_steps', 'train.max_tokens' or 'train.max_time'")
    if t.schedule == "cosine" and t.max_steps == 0 and t.decay_steps == 0:
        fail("cosine decay needs a horizon: set 'train.decay_steps' or 'train.max_steps'")
    if cfg.sample.temperature <= 0:
        fail(f"'sample.temperature' is {cfg.sample.temperature}; it must be positive, like 0.8")


def _system(cfg: Config, fail: Callable[[str], NoReturn]) -> None:
    """Devices, processes and GPUs agree."""
    if cfg.system.telemetry_interval < 0 or cfg.system.peak_tflops < 0:
        fail("'system.telemetry_interval' and 'system.peak_tflops' must not be negative")
    dev, nproc = cfg.system.device, cfg.system.nproc
    if isinstance(dev, list):
        if len(set(dev)) != len(dev):
            fail(f"'system.device' lists a GPU twice: {dev}")
        if nproc > 1 and nproc != len(dev):
            fail(f"'system.device' lists {len(dev)} GPUs but 'system.nproc' is {nproc}; one process per "
                 f"GPU: leave nproc at 1 or set it to {len(dev)}")
    elif not (dev in ("auto", "cpu", "cuda", "mps") or (dev.startswith("cuda:") and dev[5:].isdigit())):
        fail(f"'system.device' is {dev!r}; use 'auto', 'cpu', 'cuda', 'cuda:N', 'mps' or a list of GPU indices")
    elif dev.startswith("cuda:") and nproc > 1:
        fail(f"'system.device' is {dev!r}, one GPU, but 'system.nproc' is {nproc}; list the GPUs instead, "
             f"like system.device = {list(range(nproc))}")
    elif dev == "mps" and nproc > 1:
        fail("'system.nproc' above 1 needs CUDA GPUs or the CPU; MPS trains in one process")
    if cfg.system.gpus > 1 and cfg.system.gpus != processes(cfg.system):
        fail(f"'system.gpus' is {cfg.system.gpus} but the run trains on {processes(cfg.system)} process(es), "
             f"one per GPU: set 'system.nproc' to {cfg.system.gpus}, or leave gpus at 1")


def _data(cfg: Config, fail: Callable[[str], NoReturn]) -> None:
    """Data files and tokenizer agree."""
    m = cfg.model
    d = cfg.data
    if bool(d.train_bin) != bool(d.val_bin):
        fail("set both 'data.train_bin' and 'data.val_bin' (pre-tokenized files come in pairs)")
    if m.init_from and d.tokenizer != "gpt2":
        fail("'model.init_from' starts from GPT-2's weights: set 'data.tokenizer' to 'gpt2'")
    if d.train_bin and d.tokenizer != "gpt2":
        fail("pre-tokenized .bin files hold GPT-2 tokens: set 'data.tokenizer' to 'gpt2'")


def processes(system: SystemConfig) -> int:
    """How many processes a run trains on: system.nproc, or one per GPU listed in system.device."""
    return len(system.device) if isinstance(system.device, list) else system.nproc


def check_data_files(cfg: Config, where: str) -> None:
    """Before a run starts: the data files it names exist (not part of validate(), so a config
    whose data lives on another machine still loads, diffs and prints)."""
    d = cfg.data
    for name in ("dataset", "val_dataset", "train_bin", "val_bin"):
        value = getattr(d, name)
        if d.train_bin and name in ("dataset", "val_dataset"):
            continue  # the .bin pair replaces the text files
        problem = not_a_file(Path(value)) if value and value != "tinyshakespeare" else None
        if problem is None and value and value != "tinyshakespeare" and Path(value).stat().st_size == 0:
            problem = "is empty"
        if problem:
            raise WorkbenchError(f"{where}: 'data.{name}' names {value}, which {problem}"
                                 + ("; see the comment at the top of the experiment file" if "bin" in name else ""))
    if cfg.model.init_from:
        from workbench.formats.hf_gpt2 import read_config

        try:
            read_config(cfg.model.init_from)
        except WorkbenchError as e:
            raise WorkbenchError(f"{where}: {e}") from None


def check_runnable(cfg: Config, where: str) -> None:
    """Before a run folder is made: its data files are there and its model can train here."""
    from workbench.sizing import check_fits

    check_data_files(cfg, where)
    check_fits(cfg, where)
