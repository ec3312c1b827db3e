"""Model FLOPs utilization: FLOPs per token, dense peak TFLOP/s of known GPUs, and MFU.

No torch import: the TUI and `workbench gpu` use the table too.

FLOPs per token follow the PaLM paper (appendix B) as nanoGPT uses them:
6·N for the forward and backward matmuls over the weights plus 12·L·H·Q·T for
attention scores and weighted values (L layers, H heads, Q head size, T context).

The peak table holds *dense* (no 2:4 sparsity) datasheet figures in TFLOP/s at
boost clock. NVIDIA's datasheets print tensor-core figures "with sparsity" (the
starred, larger number); the dense figure is half of it. For GeForce cards the
tensor figures are the "FP32 accumulate" ones from the architecture whitepapers
(GA102, AD102), which is what PyTorch's matmuls use. Cards without TF32 tensor
cores (Volta, Turing) run "tf32" at their plain FP32 rate; cards without bf16
(Volta, Turing) have no bf16 entry, so MFU is n/a there. A name that is not in
the table, or a CPU, has no peak: MFU is n/a, never guessed.
"""

from __future__ import annotations

import re

PRECISIONS = ("fp32", "tf32", "bf16", "fp16")

# (patterns, {precision: dense TFLOP/s}, source). A pattern is a tuple of tokens that
# must all appear, in order, among the tokens of the lower-cased device name. The first
# entry with a matching pattern wins, so the specific ones come first. An empty dict
# marks a known variant whose figures differ from its sibling's and are not tabulated.
_H100_SXM = {"fp32": 66.9, "tf32": 494.7, "bf16": 989.4, "fp16": 989.4}
_H100_PCIE = {"fp32": 51.2, "tf32": 378.0, "bf16": 756.0, "fp16": 756.0}
_H100_NVL = {"fp32": 60.0, "tf32": 417.5, "bf16": 835.5, "fp16": 835.5}
_A100 = {"fp32": 19.5, "tf32": 156.0, "bf16": 312.0, "fp16": 312.0}

PEAKS: list[tuple[tuple[tuple[str, ...], ...], dict[str, float], str]] = [
    # Hopper. H200 SXM has the H100 SXM compute (datasheet: FP32 67, TF32 989*, BF16 1,979*).
    ((("h200", "nvl"),), _H100_NVL, "H200 NVL datasheet: FP32 60, TF32 835*, BF16/FP16 1,671* (*sparse)"),
    ((("h200",),), _H100_SXM, "H200 SXM datasheet: FP32 67, TF32 989*, BF16/FP16 1,979* (*sparse)"),
    ((("h100", "nvl"),), _H100_NVL, "H100 NVL datasheet (per GPU): FP32 60, TF32 835*, BF16/FP16 1,671*"),
    ((("h100", "pcie"),), _H100_PCIE, "H100 PCIe datasheet: FP32 51, TF32 756*, BF16/FP16 1,513*"),
    ((("h100", "sxm"), ("h100", "80gb", "hbm3"), ("h100", "64gb", "hbm3"), ("h100", "94gb", "hbm3")),
     _H100_SXM, "H100 SXM5 datasheet: FP32 67, TF32 989*, BF16/FP16 1,979*"),
    ((("gh200",),), _H100_SXM, "GH200 datasheet (Hopper GPU): FP32 67, TF32 494, BF16/FP16 990 dense"),
    # Ampere. All A100 variants (SXM4/PCIe, 40/80 GB) share the compute figures.
    ((("a100",),), _A100, "A100 datasheet: FP32 19.5, TF32 156, BF16/FP16 312 (dense)"),
    ((("a10g",),), {"fp32": 35.0, "tf32": 35.0, "bf16": 70.0, "fp16": 70.0},
     "A10G (AWS; no NVIDIA datasheet): FP32 35, TF32 35, BF16/FP16 70 as AWS-published specs"),
    ((("a10",),), {"fp32": 31.2, "tf32": 62.5, "bf16": 125.0, "fp16": 125.0},
     "A10 datasheet: FP32 31.2, TF32 62.5, BF16/FP16 125 (dense)"),
    # Ada.
    ((("l40s",),), {"fp32": 91.6, "tf32": 183.0, "bf16": 362.05, "fp16": 362.05},
     "L40S datasheet: FP32 91.6, TF32 183, BF16/FP16 362.05 (dense)"),
    ((("l40",),), {"fp32": 90.5, "tf32": 90.5, "bf16": 181.05, "fp16": 181.05},
     "L40 datasheet: FP32 90.5, TF32 90.5, BF16/FP16 181.05 (dense)"),
    ((("l4",),), {"fp32": 30.3, "tf32": 60.0, "bf16": 121.0, "fp16": 121.0},
     "L4 datasheet: FP32 30.3, TF32 120*, BF16/FP16 242* (*sparse)"),
    ((("rtx", "4090", "d"),), {}, "RTX 4090 D: cut-down AD102, not tabulated"),
    ((("rtx", "4090"),), {"fp32": 82.6, "tf32": 82.6, "bf16": 165.2, "fp16": 165.2},
     "Ada whitepaper, RTX 4090: FP32 82.6, TF32 82.6, BF16/FP16 (FP32 acc.) 165.2 dense"),
    ((("rtx", "3090", "ti"),), {}, "RTX 3090 Ti: higher clocks than the 3090, not tabulated"),
    ((("rtx", "3090"),), {"fp32": 35.6, "tf32": 35.6, "bf16": 71.0, "fp16": 71.0},
     "GA102 whitepaper, RTX 3090: FP32 35.6, TF32 35.6, BF16/FP16 (FP32 acc.) 71 dense"),
    # Volta and Turing: no TF32 or bf16 tensor cores; fp16 is the tensor-core figure.
    ((("v100s",),), {"fp32": 16.4, "tf32": 16.4, "fp16": 130.0},
     "V100S PCIe datasheet: FP32 16.4, tensor 130"),
    ((("v100", "sxm3"),), {}, "V100 SXM3 (DGX-2): higher clocks than SXM2, not tabulated"),
    ((("v100", "sxm2"),), {"fp32": 15.7, "tf32": 15.7, "fp16": 125.0},
     "V100 SXM2 datasheet: FP32 15.7, tensor 125"),
    ((("v100", "pcie"),), {"fp32": 14.0, "tf32": 14.0, "fp16": 112.0},
     "V100 PCIe datasheet: FP32 14, tensor 112"),
    ((("t4",),), {"fp32": 8.1, "tf32": 8.1, "fp16": 65.0},
     "T4 datasheet: FP32 8.1, mixed FP16/FP32 65"),
]


def _tokens(name: str) -> list[str]:
    """'NVIDIA A100-SXM4-80GB' -> ['nvidia', 'a100', 'sxm4', '80gb']; 'H100 PCIe' -> [..., 'pcie']."""
    return re.findall(r"[a-z0-9]+", name.lower())


def _has(tokens: list[str], pattern: tuple[str, ...]) -> bool:
    """Every token of the pattern appears in order (not necessarily adjacent); 'sxm'
    also matches 'sxm4'/'sxm5' and similar: a pattern token ending in letters matches a
    name token that continues with digits."""
    i = 0
    for want in pattern:
        while i < len(tokens):
            tok = tokens[i]
            i += 1
            if tok == want or (want[-1].isalpha() and re.fullmatch(re.escape(want) + r"\d+", tok)):
                break
        else:
            return False
    return True


def lookup(device_name: str) -> tuple[dict[str, float], str] | None:
    """The table entry for a device name, as (peaks by precision, source), or None."""
    tokens = _tokens(device_name or "")
    for patterns, peaks, source in PEAKS:
        if any(_has(tokens, p) for p in patterns):
            return peaks, source
    return None


_ALIASES = {"float32": "fp32", "32": "fp32", "bfloat16": "bf16", "float16": "fp16", "half": "fp16"}


def peak_tflops(device_name: str, precision: str) -> float | None:
    """Dense peak TFLOP/s of a known GPU for fp32 | tf32 | bf16 | fp16; None when unknown."""
    precision = _ALIASES.get(precision.lower(), precision.lower()) if precision else ""
    if precision not in PRECISIONS:
        return None
    entry = lookup(device_name)
    if entry is None:
        return None
    return entry[0].get(precision)


def run_peak(device_name: str, precision: str, override_tflops: float = 0.0) -> float | None:
    """The peak a run's MFU divides by: `[system] peak_tflops` when set (> 0), else the
    table's dense figure for the device and the run's resolved precision, else None."""
    if override_tflops and override_tflops > 0:
        return float(override_tflops)
    return peak_tflops(device_name, precision)


def flops_per_token(n_params_for_flops: int, n_layer: int, n_head: int, head_dim: int,
                    block_size: int) -> float:
    """Training FLOPs per token: 6·N + 12·n_layer·n_head·head_dim·block_size."""
    return 6.0 * n_params_for_flops + 12.0 * n_layer * n_head * head_dim * block_size


def mfu(tokens_per_sec: float, flops_per_token: float, peak_tflops: float | None, devices: int = 1) -> float | None:
    """Achieved FLOP/s over the peak of `devices` devices (a data-parallel run's tok/s counts
    all its ranks), as a fraction (0.38 = 38%); None without a peak."""
    if not peak_tflops or peak_tflops <= 0 or tokens_per_sec is None or tokens_per_sec < 0:
        return None
    return tokens_per_sec * flops_per_token / (peak_tflops * 1e12 * devices)
