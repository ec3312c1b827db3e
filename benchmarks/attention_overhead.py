"""Issue 16: the training step is as fast as before attention inspection existed, and the
inspected weights match the fused (SDPA/flash) attention the model trains with.

    git show 3a72b47:workbench/model.py > /tmp/model_before.py   # model.py before issue 16
    python3 benchmarks/attention_overhead.py /tmp/model_before.py

On a GPU: char.toml's GPT (6x6x384, block 256, batch 64, bf16 autocast, SDPA, fused AdamW),
eager and compiled. On a CPU: cpu.toml's (4x4x128, block 128, batch 32, fp32), eager. The
current model.py and the old one alternate A/B three times; then CausalSelfAttention.weights
is checked against scaled_dot_product_attention on the same device.
"""

from __future__ import annotations

import importlib.util
import sys
import time

import torch

from workbench.config import Config
from workbench.model import GPT

CUDA = torch.cuda.is_available()
DEVICE = "cuda" if CUDA else "cpu"
STEPS, WARMUP = (60, 15) if CUDA else (20, 3)
SIZE = (6, 6, 384, 256, 64) if CUDA else (4, 4, 128, 128, 32)  # layers, heads, width, block, batch


def load_old(path: str):
    spec = importlib.util.spec_from_file_location("model_before", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def model_config():
    cfg = Config()
    m = cfg.model
    m.n_layer, m.n_head, m.n_embd, m.block_size, _ = SIZE
    m.dropout = 0.0
    return m


def sync() -> None:
    if CUDA:
        torch.cuda.synchronize()


def step_ms(cls, compile_: bool) -> float:
    torch.manual_seed(0)
    model = cls(model_config(), 65).to(DEVICE)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=True)
    run = torch.compile(model) if compile_ else model
    x = torch.randint(0, 65, (SIZE[4], SIZE[3]), device=DEVICE)
    for i in range(WARMUP + STEPS):
        if i == WARMUP:
            sync()
            t0 = time.perf_counter()
        with torch.autocast(DEVICE, dtype=torch.bfloat16, enabled=CUDA):
            _, loss = run(x, x)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    sync()
    return (time.perf_counter() - t0) / STEPS * 1000


def main() -> None:
    old = load_old(sys.argv[1])
    print(torch.__version__, torch.cuda.get_device_name() if CUDA else f"cpu, {torch.get_num_threads()} threads")
    for compile_ in (False, True) if CUDA else (False,):
        times = {"before": [], "now": []}
        for _ in range(3):
            times["before"].append(step_ms(old.GPT, compile_))
            times["now"].append(step_ms(GPT, compile_))
        before, now = (" ".join(f"{t:.2f}" for t in times[k]) for k in ("before", "now"))
        print(f"compile={compile_}: ms/step before [{before}] now [{now}]; best before "
              f"{min(times['before']):.2f} now {min(times['now']):.2f}", flush=True)
    model = GPT(model_config(), 65).to(DEVICE).eval()
    attn, T = model.blocks[0].attn, SIZE[3]
    with torch.no_grad(), torch.autocast(DEVICE, dtype=torch.bfloat16, enabled=CUDA):
        x = model.blocks[0].ln_1(model.embed(torch.randint(0, 65, (2, T), device=DEVICE)))
        w = attn.weights(x)
        _, _, v = attn.heads(x)
        y = attn.proj((w.to(v.dtype) @ v).transpose(1, 2).reshape(2, T, -1))
        fused = attn(x)
    err = (y.float() - fused.float()).abs().max().item()
    print(f"weights vs fused attention on {DEVICE}: max |difference| {err:.2e} (output scale "
          f"{fused.float().abs().max().item():.2e}); rows sum to 1 within "
          f"{(w.float().sum(-1) - 1).abs().max().item():.1e}; largest weight above the diagonal "
          f"{w.float().triu(1).abs().max().item()}")


if __name__ == "__main__":
    main()
