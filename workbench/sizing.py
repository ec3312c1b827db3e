"""How big a model is before it exists: parameters and the memory training needs, from the
config alone (no torch), so an impossible model is refused with the numbers before anything
is allocated or any run folder is made."""

from __future__ import annotations

from workbench.config import Config, ModelConfig
from workbench.errors import WorkbenchError
from workbench.formats.hf_gpt2 import GPT2_VOCAB
from workbench.formatting import fmt_bytes

TRAIN_BYTES_PER_PARAM = 16  # fp32 weights, gradients and AdamW's two moments
ACT_BYTES = 2  # per saved activation value, as low as bf16: the estimate stays a lower bound


def padded_vocab(vocab_size: int, multiple: int) -> int:
    return ((vocab_size + multiple - 1) // multiple) * multiple


def vocab_estimate(cfg: Config) -> int:
    """The vocabulary before the data is read: GPT-2's, or 0 for char (a few hundred at most in
    practice; leaving it out keeps the estimate a lower bound)."""
    return GPT2_VOCAB if cfg.data.tokenizer == "gpt2" else 0


def param_count(m: ModelConfig, vocab_size: int) -> int:
    """Parameters of the model that model.py builds from `m` (the same layers, counted)."""
    if m.kind == "bigram":
        return vocab_size * vocab_size
    c, bias = m.n_embd, int(m.bias)
    width = m.n_head * (m.head_size or c // m.n_head)
    hidden = m.ffn_mult * c
    norm = (c * (1 + bias)) if m.layernorm else 0
    attn = c * 3 * width + 3 * width * bias + ((width * c + c * bias) if m.attn_proj else 0)
    ffn = (c * hidden + hidden * bias + ((hidden * c + c * bias) if m.ffn_proj else 0) + norm) if m.ffn else 0
    vocab = padded_vocab(vocab_size, m.vocab_multiple)
    embeddings = vocab * c * (1 if m.tie_weights else 2) + m.block_size * c
    return embeddings + m.n_layer * (norm + attn + ffn) + norm


def training_bytes(cfg: Config, vocab_size: int) -> tuple[int, int]:
    """(parameters, a lower bound on the bytes one training step holds: weights, gradients and
    optimizer state, plus the activations one micro-batch keeps for the backward pass)."""
    m = cfg.model
    params = param_count(m, vocab_size)
    tokens = cfg.train.batch_size * m.block_size
    per_layer = (4 + 2 * m.ffn_mult) * m.n_embd if m.kind == "gpt" else 0
    logits = padded_vocab(vocab_size, m.vocab_multiple)
    return params, TRAIN_BYTES_PER_PARAM * params + ACT_BYTES * tokens * (m.n_layer * per_layer + logits)


def device_memory(device: str) -> tuple[int, str] | None:
    """(bytes, what) the run's device has: the GPU's memory (NVML) for cuda, the machine's RAM
    for cpu and mps; None when it cannot be told (cuda without NVML)."""
    import psutil

    if device != "cpu" and device != "mps":
        try:
            from workbench import gpus

            found = gpus.list_gpus()
        except Exception:  # noqa: BLE001 - no NVML: cannot tell
            found = []
        # the largest GPU (cuda:N counts after CUDA_VISIBLE_DEVICES): refuse only what fits nowhere
        mems = [g.mem_total_bytes for g in found if g.mem_total_bytes]
        if mems:
            return max(mems), "the GPU's memory"
        if device != "auto":
            return None
    return psutil.virtual_memory().total, "this machine's RAM"


def check_fits(cfg: Config, where: str, vocab_size: int | None = None) -> None:
    """Refuse, with the numbers, a run whose training cannot fit on its device."""
    vocab = vocab_estimate(cfg) if vocab_size is None else vocab_size
    params, need = training_bytes(cfg, vocab)
    have = device_memory(cfg.system.device)
    if have is not None and need > have[0]:
        m = cfg.model
        raise WorkbenchError(
            f"{where}: this model cannot train here: about {params:,} parameters "
            f"(n_layer={m.n_layer}, n_embd={m.n_embd}, n_head={m.n_head}) and a batch of "
            f"{cfg.train.batch_size}x{m.block_size} tokens need at least {fmt_bytes(need)}, and "
            f"{have[1]} is {fmt_bytes(have[0])}; make the model or the batch smaller")


def check_weights_fit(m: ModelConfig, vocab_size: int, where: str = "model") -> None:
    """Before allocating a model's weights (fp32) in this process: refuse what RAM cannot hold."""
    import psutil

    params = param_count(m, vocab_size)
    ram = psutil.virtual_memory().total
    if 4 * params > ram:
        raise WorkbenchError(f"{where}: the model has about {params:,} parameters, "
                             f"{fmt_bytes(4 * params)} of weights, more than this machine's RAM "
                             f"({fmt_bytes(ram)}); check model.n_layer, n_embd and block_size")
