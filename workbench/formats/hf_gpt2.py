"""Hugging Face GPT-2 folders: `[model] init_from = "PATH"` reads one, `workbench export RUN
--hf DIR` writes one.

A folder as `save_pretrained` (or the HF cache's snapshots/<hash>/) keeps it: config.json
and model.safetensors or pytorch_model.bin. GPT-2's Conv1D layers store their weights as
(in, out), workbench's Linear as (out, in): they are transposed both ways. The sizes
(n_layer, n_head, n_embd, n_inner, n_positions, activation) come from config.json, so
gpt2, -medium, -large and -xl load alike; the vocabulary is padded to model.vocab_multiple
and the position embedding cut to a smaller model.block_size, as nanoGPT's
crop_block_size does. safetensors is the optional extra `hf`; pytorch_model.bin is read
with torch.load(weights_only=True). torch is imported only inside the functions that need
it: config.py calls model_keys() while it loads an experiment.
"""

from __future__ import annotations

import json
from pathlib import Path

from workbench.errors import WorkbenchError

# config.json's activation_function -> model.activation
ACTIVATIONS = {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "gelu": "gelu", "relu": "relu"}
CONV1D = (".attn.c_attn.weight", ".attn.c_proj.weight", ".mlp.c_fc.weight", ".mlp.c_proj.weight")
GPT2_VOCAB = 50257
HOW_TO_GET = ("make one with transformers where there is a network: python -c \"from transformers import "
              "GPT2LMHeadModel as M; M.from_pretrained('gpt2-xl').save_pretrained('gpt2-xl')\" (or gpt2, "
              "gpt2-medium, gpt2-large), then copy that folder to this path or set model.init_from to it")


def read_config(folder: str | Path, where: str = "model.init_from") -> dict:
    folder = Path(folder).expanduser()
    path = folder / "config.json"
    if not path.is_file():
        raise WorkbenchError(f"'{where}' names {folder}, which has no config.json of a Hugging Face "
                             f"GPT-2 model; {HOW_TO_GET}")
    try:
        c = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise WorkbenchError(f"{path}: not a readable JSON file ({e})") from None
    if not isinstance(c, dict) or c.get("model_type", "gpt2") != "gpt2":
        raise WorkbenchError(f"{path}: not a GPT-2 config (model_type {c.get('model_type')!r})")
    return c


def model_keys(folder: str | Path, block_size: int | None, where: str) -> dict:
    """The [model] keys of the GPT-2 in `folder` (block_size: the experiment's, if it set one)."""
    c = read_config(folder)
    act = c.get("activation_function", "gelu_new")
    if act not in ACTIVATIONS:
        raise WorkbenchError(f"{folder}/config.json: activation_function {act!r} is not supported; "
                             f"workbench has {', '.join(ACTIVATIONS)}")
    for key, ok in (("layer_norm_epsilon", 1e-5), ("scale_attn_by_inverse_layer_idx", False),
                    ("reorder_and_upcast_attn", False), ("scale_attn_weights", True)):
        if c.get(key, ok) != ok:
            raise WorkbenchError(f"{folder}/config.json: {key} = {c[key]!r}; workbench's GPT has {ok!r}")
    if c.get("vocab_size", GPT2_VOCAB) != GPT2_VOCAB:
        raise WorkbenchError(f"{folder}/config.json: vocab_size {c['vocab_size']}; init_from needs GPT-2's "
                             f"vocabulary of {GPT2_VOCAB} tokens")
    n_embd, n_pos = int(c["n_embd"]), int(c.get("n_positions", 1024))
    inner = c.get("n_inner") or 4 * n_embd
    if inner % n_embd:
        raise WorkbenchError(f"{folder}/config.json: n_inner {inner} is not a multiple of n_embd {n_embd}")
    if block_size and block_size > n_pos:
        raise WorkbenchError(f"{where}: 'model.block_size' is {block_size}, but the model in {folder} "
                             f"has {n_pos} positions; use at most {n_pos}")
    keys = {"kind": "gpt", "n_layer": int(c["n_layer"]), "n_head": int(c["n_head"]), "n_embd": n_embd,
            "head_size": 0, "block_size": block_size or n_pos, "bias": True, "ffn": True,
            "ffn_mult": inner // n_embd, "ffn_proj": True, "activation": ACTIVATIONS[act], "residual": True,
            "attn_proj": True, "layernorm": True, "tie_weights": bool(c.get("tie_word_embeddings", True)),
            "pos_emb": True}
    from workbench.config import section_keys

    return {k: v for k, v in keys.items() if k in section_keys("model")}  # pos_emb: where [model] has it


def read_weights(folder: str | Path) -> dict:
    """The tensors of model.safetensors (or pytorch_model.bin) by GPT-2 name, without
    `transformer.` and without the attention-mask buffers."""
    import torch

    folder = Path(folder).expanduser()
    st, pt = folder / "model.safetensors", folder / "pytorch_model.bin"
    if st.is_file():
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise WorkbenchError(f"{st} needs the safetensors package: pip install 'workbench[hf]'") from None
        w = load_file(str(st))
    elif pt.is_file():
        try:
            w = torch.load(pt, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - torch raises many kinds for a bad file
            raise WorkbenchError(f"{pt}: refused or unreadable with weights_only=True ({type(e).__name__})") from None
    else:
        raise WorkbenchError(f"{folder} has neither model.safetensors nor pytorch_model.bin; {HOW_TO_GET}")
    w = {k.removeprefix("transformer."): v for k, v in w.items()}
    return {k: v for k, v in w.items() if not k.endswith((".attn.bias", ".attn.masked_bias"))}


def load_weights(model, folder: str | Path) -> None:
    """Copy the GPT-2 in `folder` into a workbench GPT built from its model_keys()."""
    import torch

    from workbench.formats.nanogpt import check_fit, pad_rows, rename

    w = read_weights(folder)
    ours = {}
    for k, v in w.items():
        name = "lm_head.weight" if k == "lm_head.weight" else rename("transformer." + k)
        ours[name] = v.t() if k.endswith(CONV1D) else v
    rows, positions = model.wte.weight.size(0), model.wpe.weight.size(0)
    ours["wte.weight"] = pad_rows(ours["wte.weight"], rows)
    ours["wpe.weight"] = ours["wpe.weight"][:positions]
    if model.tie_weights:
        ours["lm_head.weight"] = ours["wte.weight"]
    elif "lm_head.weight" in ours:
        ours["lm_head.weight"] = pad_rows(ours["lm_head.weight"], rows)
    mine = model.state_dict()
    check_fit(mine, ours, f"{folder}: the weights (config.json)")
    with torch.no_grad():
        model.load_state_dict({k: v.to(mine[k].dtype) for k, v in ours.items()})


def export_run(run, out: Path, which: str = "last") -> Path:
    """Write the run's `which` checkpoint as config.json + model.safetensors in `out`."""
    import torch

    from workbench import checkpoint
    from workbench.config import from_dict
    from workbench.data import tokenizer_from_state

    path = run.checkpoint(which)
    if not path.exists():
        raise WorkbenchError(f"{run.id} has no {which} checkpoint ({path})")
    try:
        from safetensors.torch import save_file
    except ImportError:
        raise WorkbenchError("--hf writes model.safetensors: pip install 'workbench[hf]'") from None
    ckpt = checkpoint.load(path)
    cfg = from_dict(ckpt["config"], where=str(path))
    m, vocab = cfg.model, tokenizer_from_state(ckpt["tokenizer"]).vocab_size
    unlike = [k for k, ok in (("kind", "gpt"), ("layernorm", True), ("residual", True), ("ffn", True),
                              ("ffn_proj", True), ("attn_proj", True), ("pos_emb", True))
              if getattr(m, k, ok) != ok]
    if m.head_size not in (0, m.n_embd // m.n_head) or m.n_embd % m.n_head:
        unlike.append("head_size")
    if unlike:
        raise WorkbenchError(f"{run.id}: GPT-2 has no model like this one ({', '.join(f'model.{k}' for k in unlike)} "
                             "differ from GPT-2's); --hf exports GPT-2-shaped models only")
    sd, C = ckpt["model"], m.n_embd
    tensors = {"wte.weight": sd["wte.weight"][:vocab], "wpe.weight": sd["wpe.weight"]}

    def bias(name: str, size: int):  # model.bias off: GPT-2 always has one, zero is the same model
        return sd[name] if name in sd else torch.zeros(size, dtype=sd["wte.weight"].dtype)

    for i in range(m.n_layer):
        b, h = f"blocks.{i}.", f"h.{i}."
        for ours, theirs, width in (("ln_1", "ln_1", C), ("ln_2", "ln_2", C)):
            tensors[h + theirs + ".weight"] = sd[b + ours + ".weight"]
            tensors[h + theirs + ".bias"] = bias(b + ours + ".bias", width)
        for ours, theirs in (("attn.qkv", "attn.c_attn"), ("attn.proj", "attn.c_proj"),
                             ("ffn.fc", "mlp.c_fc"), ("ffn.proj", "mlp.c_proj")):
            weight = sd[b + ours + ".weight"]
            tensors[h + theirs + ".weight"] = weight.t()
            tensors[h + theirs + ".bias"] = bias(b + ours + ".bias", weight.size(0))
    tensors["ln_f.weight"], tensors["ln_f.bias"] = sd["ln_f.weight"], bias("ln_f.bias", C)
    tensors = {"transformer." + k: v for k, v in tensors.items()}
    if not m.tie_weights:
        tensors["lm_head.weight"] = sd["lm_head.weight"][:vocab]
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().float().contiguous() for k, v in tensors.items()}, str(out / "model.safetensors"),
              metadata={"format": "pt"})
    activation = {"gelu": "gelu", "gelu_tanh": "gelu_new", "relu": "relu"}[m.activation]
    config = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": vocab,
              "n_positions": m.block_size, "n_ctx": m.block_size, "n_embd": C, "n_layer": m.n_layer,
              "n_head": m.n_head, "n_inner": m.ffn_mult * C, "activation_function": activation,
              "resid_pdrop": m.dropout, "embd_pdrop": m.dropout, "attn_pdrop": m.dropout,
              "layer_norm_epsilon": 1e-5, "initializer_range": 0.02, "tie_word_embeddings": m.tie_weights,
              "scale_attn_weights": True, "use_cache": True, "torch_dtype": "float32"}
    eot = 50256 if vocab == GPT2_VOCAB else None  # GPT2Config's default would lie outside a char vocabulary
    config.update(bos_token_id=eot, eos_token_id=eot)
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return out
