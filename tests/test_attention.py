"""Attention maps: the model's own weights, causal and normalized; with and without positions;
`workbench attn` drawing them; the checkpoint files they come from."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import write_fake_run
from fixtures_attn import tiny_config, write_checkpoints

from workbench.attention import attention_weights
from workbench.checkpoint_files import list_checkpoints, spec_name
from workbench.cli import main
from workbench.config import Config, load_config
from workbench.errors import WorkbenchError
from workbench.model import build_model
from workbench.store import RunStore


def fresh(pos_emb: bool, **model):
    torch.manual_seed(0)
    return build_model(tiny_config(pos_emb, **model).model, 60).eval()


@pytest.mark.parametrize("attention", ["sdpa", "manual"])
def test_weights_are_causal_rows_sum_to_one_and_are_the_models_own(attention):
    model = fresh(True, attention=attention, n_layer=2)
    ids = [5, 9, 2, 7, 7, 1, 30, 4]
    w = attention_weights(model, ids)
    assert w.shape == (2, 2, 8, 8)
    upper = torch.triu(torch.ones(8, 8, dtype=torch.bool), diagonal=1)
    assert (w[..., upper] == 0).all()
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 2, 8))
    # the weights times v, through the output projection, are what the block's attention computes
    attn = model.blocks[0].attn
    x = model.blocks[0].ln_1(model.embed(torch.tensor([ids])))
    with torch.no_grad():
        _, _, v = attn.heads(x)
        y = (w[0].unsqueeze(0) @ v).transpose(1, 2).reshape(1, 8, -1)
        torch.testing.assert_close(attn.proj(y), attn(x), atol=1e-5, rtol=1e-4)


def test_without_positions_a_repeated_token_gets_uniform_attention():
    # init "torch" gives big enough weights that positions visibly move attention
    ids = [17] * 10
    uniform = torch.tril(torch.ones(10, 10)) / torch.arange(1, 11).unsqueeze(1)
    no_pos = attention_weights(fresh(False, init="torch"), ids)[0]
    for h in range(no_pos.size(0)):
        torch.testing.assert_close(no_pos[h], uniform)  # row i is 1/(i+1)
    with_pos = attention_weights(fresh(True, init="torch"), ids)[0]
    assert (with_pos - uniform).abs().max() > 0.05


def test_pos_emb_key_is_documented_and_checked(tmp_path):
    model = build_model(tiny_config(False).model, 60)
    assert model.wpe is None and "wpe.weight" not in model.state_dict()
    assert model.param_counts()["total"] == build_model(tiny_config(True).model, 60).param_counts()["total"] - 32 * 32
    bad = tmp_path / "bad.toml"
    bad.write_text("[model]\npos_emb = 'no'\n")
    with pytest.raises(WorkbenchError, match="'model.pos_emb' must be true or false"):
        load_config(bad)
    bad.write_text("[checkpoint]\nkeep_every = -5\n")
    with pytest.raises(WorkbenchError, match="keep_every"):
        load_config(bad)


def test_experiment_files_differ_only_in_pos_emb():
    from conftest import ROOT

    from workbench.config import diff_configs

    a = load_config(ROOT / "experiments/attention/pos-emb.toml")
    b = load_config(ROOT / "experiments/attention/no-pos-emb.toml")
    assert diff_configs(a, b) == [("model.pos_emb", True, False)]
    assert a.checkpoint.keep_init and a.checkpoint.keep_every > 0


def test_checkpoint_files_listed_in_order_with_sizes(tmp_path):
    for name in ["last", "step-0000200", "best", "init", "step-0000020", ".last.pt.tmp1", "notes"]:
        (tmp_path / (name if name.startswith(".") or name == "notes" else f"{name}.pt")).write_bytes(b"x" * 7)
    found = list_checkpoints(tmp_path)
    assert [c.name for c in found] == ["init", "step-0000020", "step-0000200", "best", "last"]
    assert [c.step for c in found] == [0, 20, 200, None, None] and {c.size for c in found} == {7}
    assert spec_name("300") == spec_name("step-300") == "step-0000300" and spec_name("init") == "init"
    for bad in ["../last", "first", "-1", ""]:
        with pytest.raises(WorkbenchError, match="use init, best, last or a step number"):
            spec_name(bad)


# ---------------------------------------------------------------- workbench attn


@pytest.fixture(scope="module")
def run_with_checkpoints(tmp_path_factory):
    store = RunStore(tmp_path_factory.mktemp("attn") / "runs")
    cfg = tiny_config()
    run = write_fake_run(store, "peek", cfg=cfg)
    write_checkpoints(run.checkpoints_dir, cfg, steps=12, keep=(6,))
    return store, run


def cli(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_attn_all_heads_draws_one_panel_per_head(run_with_checkpoints, capsys):
    store, run = run_with_checkpoints
    code, out, _ = cli(capsys, "--runs-dir", str(store.root), "attn", "peek", "--head", "all", "--layer", "1")
    assert code == 0
    assert [f"layer 1 · head {h}" in out for h in range(3)] == [True, True, False]
    assert out.count("last @ step 12") == 2 and "row: a query token" in out


def test_attn_two_checkpoints_and_json(run_with_checkpoints, capsys, tmp_path):
    store, run = run_with_checkpoints
    out_json = tmp_path / "maps.json"
    code, out, _ = cli(capsys, "--runs-dir", str(store.root), "attn", "peek", "--checkpoint", "init",
                       "--checkpoint", "6", "--prompt", "to be", "--json", str(out_json))
    assert code == 0 and "init (untrained)" in out and "step 6" in out
    data = json.loads(out_json.read_text())
    assert [s["checkpoint"] for s in data["sources"]] == ["init", "step-0000006"]
    for s in data["sources"]:
        assert s["tokens"] == list("to be") and s["layers"] == [0] and s["heads"] == [0]
        m = torch.tensor(s["maps"][0][0])
        assert (torch.triu(m, diagonal=1) == 0).all()
        torch.testing.assert_close(m.sum(-1), torch.ones(5), atol=1e-4, rtol=0)
    assert data["sources"][0]["maps"] != data["sources"][1]["maps"]


def test_attn_bad_input_says_what_to_do(run_with_checkpoints, capsys):
    store, run = run_with_checkpoints
    base = ("--runs-dir", str(store.root), "attn", "peek")
    code, _, err = cli(capsys, *base, "--checkpoint", "500")
    assert code == 2 and "no step-0000500 checkpoint (it has: init, step 6, best, last)" in err
    code, _, err = cli(capsys, *base, "--head", "2")
    assert code == 2 and "--head 2: this model has 2 heads, numbered 0 to 1" in err
    code, _, err = cli(capsys, *base, "--prompt", "naïve")
    assert code == 2 and "characters the vocabulary lacks" in err
    code, _, err = cli(capsys, *base, "--checkpoint", "init", "--checkpoint", "last", "--checkpoint", "best")
    assert code == 2 and "at most two" in err
    bigram = write_fake_run(store, "table", cfg=Config())
    cfg = tiny_config(kind="bigram")
    write_checkpoints(bigram.checkpoints_dir, cfg, steps=1, keep=())
    code, _, err = cli(capsys, "--runs-dir", str(store.root), "attn", "table")
    assert code == 2 and "bigram model: it has no attention" in err


# ---------------------------------------------------------------- keep_init, keep_every


def test_trainer_keeps_init_and_every_n_steps_weights_only(tmp_path, capsys):
    from workbench.step import build
    from workbench.trainer import train

    cfg = tiny_config()
    cfg.experiment.name = "keep"
    cfg.data.cache_dir = str(tmp_path / "cache")
    t = cfg.train
    t.batch_size, t.max_steps, t.warmup_steps, t.log_interval = 4, 6, 1, 2
    cfg.system.precision, cfg.system.compile, cfg.system.telemetry_interval = "fp32", False, 0
    cfg.eval.interval, cfg.eval.batches, cfg.sample.interval = 0, 1, -1
    cfg.checkpoint.interval, cfg.checkpoint.keep_init, cfg.checkpoint.keep_every = 0, True, 3
    store = RunStore(tmp_path / "runs")
    run = store.create_run(store.new_run_id("keep"), cfg)
    result = train(cfg, run)
    assert result.status == "finished", result.reason
    found = {c.name: c for c in list_checkpoints(run.path / "checkpoints")}
    assert list(found) == ["init", "step-0000003", "step-0000006", "best", "last"]
    assert found["init"].size < found["last"].size / 2  # no optimizer state
    init = torch.load(found["init"].path, weights_only=True)
    assert set(init) == {"model", "step", "config", "tokenizer"} and init["step"] == 0
    fresh_model = build(cfg).model.state_dict()  # the seeded model before any step
    assert all(torch.equal(init["model"][k], v) for k, v in fresh_model.items())
    last = torch.load(found["last"].path, weights_only=True)
    six = torch.load(found["step-0000006"].path, weights_only=True)
    assert six["step"] == 6 and all(torch.equal(six["model"][k], v) for k, v in last["model"].items())
    code, out, _ = cli(capsys, "--runs-dir", str(store.root), "show", run.id)
    assert code == 0 and "checkpoints (5," in out and "step 3 (" in out
