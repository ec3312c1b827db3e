"""Hugging Face GPT-2 folders: `[model] init_from` and `workbench export RUN --hf DIR`, checked
against a tiny random GPT-2 made by transformers (nothing downloaded)."""

from __future__ import annotations

import json

import pytest
import torch

from tests.conftest import requires_bpe
from workbench.cli import main
from workbench.config import load_config
from workbench.config_checks import check_data_files
from workbench.errors import WorkbenchError
from workbench.store import RunStore

transformers = pytest.importorskip("transformers")
pytest.importorskip("safetensors")


def tiny_gpt2(folder, safetensors: bool = True, **kw):
    """A random GPT-2 (biases and norms random too, so every weight is checked) saved in `folder`."""
    cfg = transformers.GPT2Config(n_positions=32, n_embd=32, n_layer=2, n_head=4, **kw)
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.1)
    model.save_pretrained(folder, safe_serialization=safetensors)
    return model


def experiment(tmp_path, body: str = "") -> str:
    (tmp_path / "corpus.txt").write_text("To be, or not to be, that is the question.\n" * 40)
    path = tmp_path / "exp.toml"
    path.write_text(f'[data]\ndataset = "corpus.txt"\ntokenizer = "gpt2"\ncache_dir = "cache"\n'
                    f'[model]\ninit_from = "gpt2"\ndropout = 0.0\n{body}'
                    '[train]\nmax_steps = 2\nbatch_size = 2\n[system]\ndevice = "cpu"\n'
                    '[eval]\nbatches = 1\n[sample]\nmax_new_tokens = 4\n')
    return str(path)


@requires_bpe
@pytest.mark.parametrize("safetensors", [True, False])
def test_init_from_gives_transformers_logits(tmp_path, safetensors):
    from workbench.step import build

    hf = tiny_gpt2(tmp_path / "gpt2", safetensors, activation_function="gelu_new")
    cfg = load_config(experiment(tmp_path, "block_size = 16\n"))
    m = cfg.model
    assert (m.n_layer, m.n_head, m.n_embd, m.block_size, m.bias, m.activation) == (2, 4, 32, 16, True, "gelu_tanh")
    model = build(cfg).model.eval()
    assert model.wte.weight.shape[0] == 50304  # padded to vocab_multiple 64
    idx = torch.randint(0, 50257, (2, 16), generator=torch.Generator().manual_seed(1))
    ours, _ = model(idx, idx)
    with torch.no_grad():
        theirs = hf(idx).logits
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-4)


def test_init_from_missing_says_what_to_do(tmp_path):
    cfg = load_config(experiment(tmp_path))  # loads (and diffs, lists) without the folder
    with pytest.raises(WorkbenchError, match="no config.json.*from_pretrained"):
        check_data_files(cfg, "exp.toml")
    (tmp_path / "gpt2").mkdir()
    (tmp_path / "gpt2" / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_embd": 32, "n_layer": 2,
                                                                "n_head": 4, "n_positions": 8}))
    with pytest.raises(WorkbenchError, match="block_size' is 16.*at most 8"):
        load_config(experiment(tmp_path, "block_size = 16\n"))


def test_shipped_finetune_experiment_names_its_folder(capsys):
    from tests.conftest import ROOT

    rc = main(["run", str(ROOT / "experiments" / "finetune-shakespeare.toml"), "--runs-dir", "/nonexistent/runs"])
    err = capsys.readouterr().err
    assert rc == 2 and "model.init_from" in err and "gpt2-xl" in err and "from_pretrained" in err


@requires_bpe
def test_export_hf_loads_in_transformers(tmp_path, capsys):
    tiny_gpt2(tmp_path / "gpt2", activation_function="gelu_new")
    runs = str(tmp_path / "runs")
    assert main(["run", experiment(tmp_path), "--runs-dir", runs]) == 0
    (run,) = RunStore(runs).runs()
    out = tmp_path / "out"
    assert main(["export", run.id, "--hf", str(out), "--runs-dir", runs]) == 0
    assert "from_pretrained" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]
    check_export(run, out)


def test_export_hf_char_model_without_biases(tmp_path, capsys):
    runs = str(tmp_path / "runs")
    (tmp_path / "exp.toml").write_text('[model]\nn_layer = 1\nn_head = 2\nn_embd = 16\nblock_size = 16\n'
                                       'bias = false\ntie_weights = false\nactivation = "relu"\n'
                                       '[data]\ncache_dir = "cache"\n[train]\nmax_steps = 2\nbatch_size = 2\n'
                                       '[system]\ndevice = "cpu"\n[eval]\nbatches = 1\n[sample]\nmax_new_tokens = 4\n')
    assert main(["run", str(tmp_path / "exp.toml"), "--runs-dir", runs]) == 0
    (run,) = RunStore(runs).runs()
    assert main(["export", run.id, "--hf", str(tmp_path / "out"), "--runs-dir", runs]) == 0
    check_export(run, tmp_path / "out")
    (tmp_path / "ladder.toml").write_text('[model]\nffn = false\n[data]\ncache_dir = "cache"\n'
                                          '[train]\nmax_steps = 1\nbatch_size = 2\n[system]\ndevice = "cpu"\n'
                                          '[eval]\nbatches = 1\n[sample]\ninterval = -1\n')
    assert main(["run", str(tmp_path / "ladder.toml"), "--runs-dir", runs, "--set", "model.n_layer=1",
                 "--set", "model.n_embd=16", "--set", "model.n_head=2"]) == 0
    other = next(r for r in RunStore(runs).runs() if r.id != run.id)
    capsys.readouterr()
    assert main(["export", other.id, "--hf", str(tmp_path / "no"), "--runs-dir", runs]) == 2
    assert "model.ffn" in capsys.readouterr().err


def check_export(run, out):
    from workbench.checkpoint import load_model

    ours, tok, _ = load_model(run.checkpoint("last"))
    hf = transformers.GPT2LMHeadModel.from_pretrained(out).eval()
    assert hf.config.vocab_size == tok.vocab_size
    idx = torch.randint(0, tok.vocab_size, (2, 16), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        logits, _ = ours(idx, idx)
        torch.testing.assert_close(hf(idx).logits, logits, atol=1e-5, rtol=1e-4)
