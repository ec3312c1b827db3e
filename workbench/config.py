"""Experiment configs: typed sections, every key with a default and a one-line doc.

An experiment file states only what it changes. `extends` chains files; the
[experiment] section describes one file and is not inherited, every other
section is. `load_config` returns a validated `Config`; bad input raises
`WorkbenchError` naming the file, the key and what would work.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.config_checks import validate
from workbench.errors import WorkbenchError
from workbench.formatting import nearest
from workbench.paths import not_a_file

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PRECISIONS = ("auto", "fp32", "tf32", "bf16", "fp16")
INT64 = (-(2**63), 2**63 - 1)


def key(default: Any, doc: str, choices: tuple | None = None) -> Any:
    """A config key: its default, a one-line description and, optionally, its allowed values."""
    meta = {"doc": doc, "choices": choices}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class ExperimentConfig:
    name: str = key("", "Experiment name; defaults to the file name without .toml.")
    description: str = key("", "One line shown in the TUI and in `workbench ls`.")
    extends: str = key("", "Experiment file this one builds on, relative to this file.")
    tags: list = key([], "Tags every run of this experiment starts with; `workbench tag` (or `t` in the TUI) "
                         "adds and takes off more.")
    sweep: str = key("", "The sweep this run is a trial of; `workbench sweep` sets it.")
    trial: int = key(-1, "The run's trial number in that sweep (-1: not a trial).")


@dataclass
class DataConfig:
    dataset: str = key("tinyshakespeare", "'tinyshakespeare' (built in) or a path to a UTF-8 text file.")
    val_dataset: str = key("", "Optional separate validation text file; otherwise split by val_fraction.")
    train_bin: str = key("", "Pre-tokenized uint16 train .bin (nanoGPT layout, GPT-2 tokens); overrides dataset.")
    val_bin: str = key("", "Pre-tokenized uint16 val .bin, used with train_bin.")
    tokenizer: str = key("char", "'char' (vocabulary from the data) or 'gpt2' (tiktoken r50k_base).", ("char", "gpt2"))
    val_fraction: float = key(0.1, "Fraction of the text's characters held out for validation (the last part; split before tokenizing, as nanoGPT's prepare.py).")
    cache_dir: str = key("", "Where tokenized data is cached; empty means ~/.cache/workbench.")


@dataclass
class ModelConfig:
    kind: str = key("gpt", "'gpt' or 'bigram' (a token -> next-token logits table).", ("gpt", "bigram"))
    n_layer: int = key(6, "Number of transformer blocks.")
    n_head: int = key(6, "Attention heads per block.")
    n_embd: int = key(384, "Embedding width.")
    head_size: int = key(0, "Width of one head; 0 means n_embd / n_head.")
    block_size: int = key(256, "Context length in tokens.")
    dropout: float = key(0.2, "Dropout probability (0 turns it off).")
    bias: bool = key(False, "Biases in Linear and LayerNorm layers (never in lm_head, as in GPT-2).")
    ffn: bool = key(True, "Feed-forward layer after attention in each block.")
    ffn_mult: int = key(4, "Feed-forward hidden width as a multiple of n_embd.")
    ffn_proj: bool = key(True, "Feed-forward output projection back to n_embd (off: one Linear + activation).")
    activation: str = key("gelu", "Feed-forward activation: 'gelu', 'gelu_tanh' (GPT-2's tanh approximation) or 'relu'.",
                          ("gelu", "gelu_tanh", "relu"))
    residual: bool = key(True, "Residual connections around attention and feed-forward.")
    attn_proj: bool = key(True, "Output projection after the concatenated heads.")
    layernorm: bool = key(True, "Pre-norm LayerNorm in each block and before the lm head.")
    pos_emb: bool = key(True, "Learned position embeddings added to the token embeddings (off: the "
                              "model sees no positions, only the causal mask).")
    tie_weights: bool = key(True, "Share the lm_head weight with the token embedding.")
    attention: str = key("sdpa", "'sdpa' (flash attention where available) or 'manual' masked softmax.", ("sdpa", "manual"))
    vocab_multiple: int = key(64, "Pad the vocabulary to a multiple of this (1 = no padding).")
    init_from: str = key("", "A local Hugging Face GPT-2 folder (config.json + model.safetensors or pytorch_model.bin) "
                             "to start from; its config.json sets the model's sizes, bias and activation.")
    init: str = key("gpt2", "'gpt2': normal(0, 0.02), residual projections scaled by 1/sqrt(2 n_layer); "
                            "'torch': PyTorch's default layer init (as in the ladder's lectures).", ("gpt2", "torch"))


@dataclass
class TrainConfig:
    batch_size: int = key(64, "Sequences per micro-batch.")
    grad_accum: int = key(1, "Micro-batches per optimizer step.")
    max_steps: int = key(5000, "Stop after this many optimizer steps (0 = no step limit).")
    max_tokens: int = key(0, "Stop after this many training tokens (0 = no limit).")
    max_time: float = key(0.0, "Stop after this many seconds of training (0 = no limit).")
    lr: float = key(1e-3, "Peak learning rate.")
    min_lr: float = key(1e-4, "Learning rate at the end of cosine decay.")
    schedule: str = key("cosine", "'cosine' (warmup then cosine decay) or 'constant' (warmup then flat).", ("cosine", "constant"))
    warmup_steps: int = key(100, "Linear warmup steps.")
    decay_steps: int = key(0, "Steps over which cosine decays to min_lr; 0 means max_steps.")
    weight_decay: float = key(0.1, "AdamW weight decay on every matrix, embeddings included (not on biases or norms), as nanoGPT.")
    beta1: float = key(0.9, "AdamW beta1.")
    beta2: float = key(0.99, "AdamW beta2.")
    grad_clip: float = key(1.0, "Clip the gradient norm to this (0 = off).")
    seed: int = key(1337, "Random seed for init, batches and dropout.")
    log_interval: int = key(10, "Steps between logged training points (the only GPU syncs).")


@dataclass
class SystemConfig:
    device: Any = key("auto", "'auto' (cuda, then mps, then cpu), 'cpu', 'cuda', 'cuda:N', 'mps', or a list of "
                              "GPU indices like [0, 1] (one process per GPU; the launcher sets CUDA_VISIBLE_DEVICES).")
    gpus: int = key(1, "GPUs the run asks for (0 = CPU; with nproc above 1, one per process); the launcher "
                       "picks free ones and sets CUDA_VISIBLE_DEVICES.")
    precision: str = key("auto", "'auto' (bf16 on GPUs that have it, else fp32), 'fp32', 'tf32', 'bf16' or 'fp16'.", PRECISIONS)
    compile: Any = key("auto", "torch.compile the model: true, false, or 'auto' (on for CUDA).")
    compile_mode: str = key("default", "torch.compile mode.", ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"))
    fused_optimizer: bool = key(True, "Fused AdamW (one kernel for all parameters) on CUDA and CPU.")
    nproc: int = key(1, "Processes to train on, data-parallel (DDP, one per GPU); above 1 `workbench run` "
                        "starts them under torchrun. train.batch_size is per process.")
    telemetry_interval: float = key(1.0, "Seconds between GPU/CPU telemetry samples (0 = off).")
    peak_tflops: float = key(0.0, "Device peak TFLOP/s for MFU; 0 means look the GPU up in the built-in table.")
    threads: int = key(0, "torch CPU threads of the run (0 = torch's default, one per core); give two CPU runs half the cores each so they do not fight over them.")


@dataclass
class EvalConfig:
    interval: int = key(250, "Steps between evaluations of train and val loss (0 = only at the end).")
    batches: int = key(200, "Batches per evaluation.")


@dataclass
class SampleConfig:
    interval: int = key(500, "Steps between generated samples (0 = only at the end, -1 = never).")
    prompt: str = key("\n", "Fixed prompt the samples start from.")
    max_new_tokens: int = key(200, "Tokens generated per sample.")
    temperature: float = key(0.8, "Sampling temperature.")
    top_k: int = key(200, "Sample among the k most likely tokens (0 = all).")
    seed: int = key(1337, "Seed for sampling, so samples at different steps are comparable.")


@dataclass
class CheckpointConfig:
    interval: int = key(1000, "Steps between checkpoints (0 = only at the end and on stop).")
    keep_best: bool = key(True, "Also keep the checkpoint with the best val loss (best.pt).")
    keep_init: bool = key(False, "Keep the model as initialised (init.pt, weights only), e.g. for `workbench attn`.")
    keep_every: int = key(0, "Keep the weights every N steps as step-NNNNNNN.pt (0 = off); for looking back in time.")


@dataclass
class Config:
    experiment: ExperimentConfig = field(default_factory=ExperimentConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    system: SystemConfig = field(default_factory=SystemConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    sample: SampleConfig = field(default_factory=SampleConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return dataclasses.asdict(self)

    @property
    def head_size(self) -> int:
        return self.model.head_size or self.model.n_embd // self.model.n_head


SECTIONS: dict[str, type] = {f.name: f.default_factory for f in dataclasses.fields(Config)}


def section_keys(section: str) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(SECTIONS[section])}


def all_keys() -> list[str]:
    return [f"{s}.{k}" for s in SECTIONS for k in section_keys(s)]


# ---------------------------------------------------------------- checking raw TOML


def _suggest(word: str, options: list[str]) -> str:
    close = nearest(word, options)
    if close:
        return f"; did you mean '{close}'?"
    return f"; valid keys: {', '.join(options)}"


def _type_name(f: dataclasses.Field) -> str:
    if f.name == "compile":
        return "true, false or \"auto\""
    if f.name == "device":
        return "a string like \"cuda:0\" or a list of GPU indices like [0, 1]"
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false",
            list: "a list of strings"}[_field_type(f)]


def _field_type(f: dataclasses.Field) -> type:
    return {"str": str, "int": int, "float": float, "bool": bool, "list": list}.get(str(f.type), object)


def check_value(where: str, dotted: str, f: dataclasses.Field, value: Any) -> Any:
    """Check one value against its key's type and choices; return it normalized."""
    t = _field_type(f)
    ok = False
    if f.name == "compile":
        ok = isinstance(value, bool) or value == "auto"
    elif f.name == "device":
        ok = isinstance(value, str) or (isinstance(value, list) and bool(value) and all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value))
    elif t is bool:
        ok = isinstance(value, bool)
    elif t is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        if ok and not INT64[0] <= value <= INT64[1]:
            raise WorkbenchError(f"{where}: '{dotted}' is {value}, beyond a 64-bit integer")
    elif t is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok and abs(value) < 2**1023 else value
        if ok and not (isinstance(value, float) and math.isfinite(value)):
            raise WorkbenchError(f"{where}: '{dotted}' is {value}; it must be a finite number")
    elif t is str:
        ok = isinstance(value, str)
    elif t is list:
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    if not ok:
        raise WorkbenchError(f"{where}: '{dotted}' must be {_type_name(f)}, got {value!r}")
    choices = f.metadata.get("choices")
    if choices and value not in choices:
        raise WorkbenchError(
            f"{where}: '{dotted}' is {value!r}; use one of {', '.join(repr(c) for c in choices)}")
    return value


def check_raw(where: str, raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Check one file's (or the overrides') sections and keys; return them normalized."""
    out: dict[str, dict[str, Any]] = {}
    for section, body in raw.items():
        if section not in SECTIONS:
            raise WorkbenchError(f"{where}: unknown section [{section}]{_suggest(section, list(SECTIONS))}")
        if not isinstance(body, dict):
            raise WorkbenchError(f"{where}: '{section}' must be a table like [{section}]")
        fields = section_keys(section)
        out[section] = {}
        for name, value in body.items():
            dotted = f"{section}.{name}"
            if name not in fields:
                options = [f"{section}.{k}" for k in fields] + [k for k in all_keys() if k.endswith("." + name)]
                raise WorkbenchError(f"{where}: unknown key '{dotted}'{_suggest(dotted, options)}")
            out[section][name] = check_value(where, dotted, fields[name], value)
    return out


# ---------------------------------------------------------------- files and extends


def read_toml(path: Path) -> dict[str, Any]:
    problem = not_a_file(path)
    if problem:
        raise WorkbenchError(f"{path} {problem}; give an experiment .toml file")
    try:
        text = path.read_bytes().decode("utf-8-sig")  # editors on Windows may start with a BOM
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise WorkbenchError(f"{path}: not valid TOML: {e}") from None
    except UnicodeDecodeError:
        raise WorkbenchError(f"{path}: not a UTF-8 text file") from None
    except OSError as e:
        raise WorkbenchError(f"{path}: cannot read it ({e.strerror})") from None


def extends_chain(path: str | Path) -> list[Path]:
    """The file and the files it extends, the file itself first."""
    chain: list[Path] = []
    current = Path(path)
    while True:
        resolved = current.resolve()
        if resolved in [p.resolve() for p in chain]:
            names = " -> ".join(str(p) for p in chain + [current])
            raise WorkbenchError(f"{chain[0]}: 'experiment.extends' forms a cycle: {names}")
        chain.append(current)
        raw = read_toml(current)
        parent = raw.get("experiment", {}).get("extends", "") if isinstance(raw.get("experiment"), dict) else ""
        if not parent:
            return chain
        if not isinstance(parent, str):
            raise WorkbenchError(f"{current}: 'experiment.extends' must be a string path, got {parent!r}")
        nxt = current.parent / parent
        problem = not_a_file(nxt)
        if problem:
            raise WorkbenchError(f"{current}: 'experiment.extends' names {parent!r}, but {nxt} {problem}")
        current = nxt


def parse_override(text: str) -> tuple[str, str, Any]:
    """'train.lr=3e-4' -> ('train', 'lr', 0.0003). Values are TOML; a bare word is a string."""
    if "=" not in text:
        raise WorkbenchError(f"--set {text}: expected key=value, like train.lr=3e-4")
    dotted, value_text = (s.strip() for s in text.split("=", 1))
    if dotted.count(".") != 1:
        raise WorkbenchError(f"--set {text}: the key must be section.key, like train.lr{_suggest(dotted, all_keys())}")
    try:
        value = tomllib.loads(f"v = {value_text}")["v"]
    except tomllib.TOMLDecodeError:
        value = value_text
    section, name = dotted.split(".")
    return section, name, value


def merge(base: dict, top: dict) -> dict:
    out = {s: dict(v) for s, v in base.items()}
    for s, body in top.items():
        out.setdefault(s, {}).update(body)
    return out


PATH_KEYS = ("dataset", "val_dataset", "train_bin", "val_bin", "cache_dir")


def _absolute_paths(raw: dict[str, dict[str, Any]], base: Path) -> dict[str, dict[str, Any]]:
    """Data paths are relative to the file that states them (or the cwd for --set), so the
    resolved config, saved with a run, still finds its data from anywhere."""
    for name in PATH_KEYS:
        value = raw.get("data", {}).get(name)
        if value and value != "tinyshakespeare":
            raw["data"][name] = str((base / Path(value).expanduser()).resolve())
    if raw.get("model", {}).get("init_from"):
        raw["model"]["init_from"] = str((base / Path(raw["model"]["init_from"]).expanduser()).resolve())
    return raw


def _init_from(merged: dict[str, dict[str, Any]], where: str) -> dict[str, dict[str, Any]]:
    """With model.init_from, the model's keys (sizes, bias, activation) come from the folder's
    config.json. A missing folder is reported before a run starts (check_data_files), so the
    experiment still loads, diffs and prints without it."""
    folder = merged.get("model", {}).get("init_from")
    if folder and (Path(folder) / "config.json").is_file():
        from workbench.formats.hf_gpt2 import model_keys

        merged["model"].update(model_keys(folder, merged["model"].get("block_size"), where))
    return merged


def load_config(path: str | Path, overrides: list[str] | tuple = ()) -> Config:
    """Read an experiment file, resolve its extends chain, apply --set overrides, validate."""
    chain = extends_chain(path)
    # [sweep] describes a search, not a run: sweep_config.py reads it
    raws = {p: {k: v for k, v in read_toml(p).items() if k != "sweep"} for p in chain}
    merged: dict[str, dict[str, Any]] = {}
    for p in reversed(chain):
        raw = _absolute_paths(check_raw(str(p), raws[p]), p.parent)
        raw.pop("experiment", None)  # describes its own file only
        merged = merge(merged, raw)
    leaf = check_raw(str(chain[0]), raws[chain[0]])
    merged["experiment"] = dict(leaf.get("experiment", {}))
    merged["experiment"].setdefault("name", Path(path).stem)
    merged["experiment"]["extends"] = ""  # flattened: the resolved config stands alone
    merged = apply_overrides(merged, overrides)
    return from_dict(_init_from(merged, str(path)), where=str(path))


def apply_overrides(merged: dict[str, dict[str, Any]], overrides: list[str] | tuple) -> dict[str, dict[str, Any]]:
    """--set KEY=VALUE on a config dict; paths in them are relative to the cwd."""
    for text in overrides:
        section, name, value = parse_override(text)
        raw = _absolute_paths(check_raw(f"--set {text}", {section: {name: value}}), Path.cwd())
        merged = merge(merged, raw)
    return merged


def from_dict(d: dict[str, dict[str, Any]], where: str = "config") -> Config:
    checked = check_raw(where, d)
    cfg = Config(**{s: SECTIONS[s](**checked.get(s, {})) for s in SECTIONS})
    validate(cfg, where)
    return cfg


# ---------------------------------------------------------------- writing and diffing


def config_to_toml(cfg: Config) -> str:
    import tomli_w

    return tomli_w.dumps(cfg.to_dict())


def flatten(cfg: Config | dict, prefix: str = "", sep: str = ".") -> dict[str, Any]:
    """Dotted keys: 'train.lr'; a script's free-form config may nest deeper or not at all.
    `sep` joins the levels ('/' for W&B-style metric names)."""
    d = cfg.to_dict() if isinstance(cfg, Config) else cfg
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}{sep}", sep))
        else:
            out[f"{prefix}{k}"] = v
    return out


# Keys that name the experiment rather than change training; a diff skips them.
IDENTITY_KEYS = ("experiment.name", "experiment.description", "experiment.extends", "experiment.tags",
                 "experiment.sweep", "experiment.trial")


def diff_configs(a: Config | dict, b: Config | dict, identity: bool = False) -> list[tuple[str, Any, Any]]:
    """The dotted keys whose values differ, as (key, value in a, value in b)."""
    fa, fb = flatten(a), flatten(b)
    keys = [k for k in fa if k in fb] + [k for k in fb if k not in fa]
    return [(k, fa.get(k), fb.get(k)) for k in keys
            if fa.get(k) != fb.get(k) and (identity or k not in IDENTITY_KEYS)]


def key_table(title: str, fields: Iterable[dataclasses.Field], show_str: Callable[[str], str] = repr) -> list[str]:
    """A README reference table of `key(...)` fields under '### [title]': key, default, meaning.
    `show_str` writes a string default ('tiny' or "tiny")."""
    lines = [f"### [{title}]", "", "| key | default | meaning |", "| --- | --- | --- |"]
    for f in fields:
        default = f.default_factory() if f.default is dataclasses.MISSING else f.default
        shown = show_str(default).replace("|", "\\|") if isinstance(default, str) else str(default).lower() if isinstance(default, bool) else str(default)
        lines.append(f"| `{f.name}` | `{shown}` | {f.metadata['doc']} |")
    return lines


def reference_markdown() -> str:
    """The config reference in README, generated from the dataclasses above."""
    lines = []
    for section in SECTIONS:
        lines += [*key_table(section, section_keys(section).values()), ""]
    return "\n".join(lines)
