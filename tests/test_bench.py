"""bench, profile and the reference loop on tiny configs, on the CPU."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from workbench.cli import main
from workbench.store import RunStore

ROOT = Path(__file__).resolve().parent.parent
TINY = str(ROOT / "experiments" / "tiny.toml")
SMALL = ["--set", "model.n_layer=1", "--set", "model.n_embd=16", "--set", "model.block_size=16",
         "--set", "train.batch_size=4"]


def test_bench_two_configs_markdown_and_json(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # the token cache
    cfg2 = tmp_path / "tiny2.toml"
    cfg2.write_text(f'[experiment]\nextends = "{TINY}"\n[model]\nattention = "manual"\n')
    out = tmp_path / "bench.json"
    code = main(["bench", TINY, str(cfg2), "--steps", "3", "--warmup", "2", *SMALL, "--json", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    lines = [ln for ln in text.splitlines() if ln.startswith("|")]
    assert len(lines) == 4 and "ms/step" in lines[0] and lines[1].startswith("|---")
    assert "| tiny |" in lines[2] and "| tiny2 |" in lines[3]
    data = json.loads(out.read_text())
    assert data["machine"]["torch"] and data["steps"] == 3 and data["warmup"] == 2
    assert len(data["results"]) == 2
    for r in data["results"]:
        assert r["device"] == "cpu" and r["mfu"] is None  # a CPU has no known peak
        assert 0 < r["ms_per_step"] < 10_000 and r["tok_per_s"] > 0
        assert r["tok_per_s"] == r["tokens_per_step"] / (r["ms_per_step"] / 1000)
        assert r["peak_memory_bytes"] > 10 * 2**20 and r["compile_s"] >= 0
        assert math.isfinite(r["loss"]) and r["loss"] < 6
    assert data["results"][1]["attention"] == "manual"


def test_profile_writes_profile_json_into_the_store(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    runs = tmp_path / "runs"
    code = main(["profile", TINY, "--steps", "2", "--warmup", "1", *SMALL, "--runs-dir", str(runs)])
    assert code == 0
    text = capsys.readouterr().out
    assert "verdict:" in text and "aten::" in text
    store = RunStore(runs)
    (info,) = store.list_runs()
    assert info.status == "finished" and info.reason == "profile"
    prof = json.loads(store.run(info.id).profile_path.read_text())
    assert prof["table"] and {"name", "self_cpu_ms", "self_cuda_ms", "calls"} <= set(prof["table"][0])
    assert prof["verdict"] and "ms per step" in prof["verdict"]
    cats = {b["category"] for b in prof["breakdown"]}
    assert {"data", "host sync", "optimizer", "attention", "matmuls"} <= cats
    assert any(r["name"].startswith("aten::") for r in prof["table"])
    from workbench.tui.widgets.profile_pane import load_profile, render_profile

    assert load_profile(store.run(info.id))["run_id"] == info.id
    assert render_profile(prof) is not None


def test_reference_loop_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from reference_loop import reference_loop
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    from workbench.config import load_config

    cfg = load_config(TINY, [a for a in SMALL if a != "--set"] + ["train.log_interval=2"])
    r = reference_loop(cfg, steps=6, skip=2)
    assert r["timed_steps"] == 4 and r["tok_per_s"] > 0 and len(r["window_s"]) == 2
    assert math.isfinite(r["final_loss"])


def test_overhead_window_math():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from overhead_vs_reference import window_tok_s
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    # windows ending at steps 10, 20, 30 (step 1 is the compile point, no step_ms there)
    total, median = window_tok_s([(10, 100.0), (20, 100.0), (30, 300.0)], 1000, skip=10, last=30)
    assert median == 1000 * 1000 / 200.0
    assert total == 20 * 1000 / 4.0
