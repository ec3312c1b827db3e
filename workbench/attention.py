"""Attention weights of a checkpoint for one prompt: what `workbench attn` and the TUI draw.

The weights come from each block's own q and k projections (CausalSelfAttention.weights),
computed for this one forward pass only: the training path, fused or not, never keeps them.
"""

from __future__ import annotations

import torch

from workbench import checkpoint
from workbench.attention_maps import AttentionMaps
from workbench.checkpoint_files import CheckpointFile
from workbench.errors import WorkbenchError
from workbench.model import GPT


def load_model(ckpt_file: CheckpointFile, device: str = "cpu"):
    """(model, tokenizer, step) from a checkpoint file: full (last, best) or weights only."""
    ckpt = checkpoint.load(ckpt_file.path, map_location=device)
    model, tok, _ = checkpoint.model_from(ckpt, str(ckpt_file.path), device)
    return model, tok, ckpt.get("step")


@torch.no_grad()
def attention_weights(model: GPT, ids: list[int]) -> torch.Tensor:
    """(n_layer, n_head, T, T) attention weights of each block for the token ids."""
    device = next(model.parameters()).device
    x = model.embed(torch.tensor([ids], dtype=torch.long, device=device))
    out = []
    for block in model.blocks:
        out.append(block.attn.weights(block.ln_1(x))[0])
        x = block(x)
    return torch.stack(out).float()


def pick(value: str, n: int, what: str) -> list[int]:
    """'all' or an index below n -> the indices; an error naming the range otherwise."""
    if value == "all":
        return list(range(n))
    if value.isdigit() and int(value) < n:
        return [int(value)]
    raise WorkbenchError(f"--{what} {value}: this model has {n} {what}s, numbered 0 to {n - 1} (or 'all')")


def inspect(run_id: str, ckpt_file: CheckpointFile, prompt: str, layer: str = "0", head: str = "0",
            device: str = "cpu") -> AttentionMaps:
    """Load the checkpoint, run the prompt through it and keep the chosen layers' and heads' weights."""
    model, tok, step = load_model(ckpt_file, device)
    if not isinstance(model, GPT):
        raise WorkbenchError(f"{run_id} is a {type(model).__name__.lower()} model: it has no attention to show")
    ids = tok.encode(prompt)
    if not ids:
        raise WorkbenchError("--prompt is empty: give some text to run through the model")
    if len(ids) > model.block_size:
        raise WorkbenchError(f"--prompt is {len(ids)} tokens; this model's context is {model.block_size}")
    layers, heads = pick(layer, model.n_layer, "layer"), pick(head, model.n_head, "head")
    weights = attention_weights(model, ids)
    maps = [[[[round(v, 5) for v in row] for row in weights[li, hi].tolist()] for hi in heads] for li in layers]
    return AttentionMaps(run_id, ckpt_file.name, step, [tok.decode([i]) for i in ids], model.n_layer,
                         model.n_head, layers, heads, maps)
