"""`import workbench.compat.wandb as wandb` in a script written for W&B records into the store."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.conftest import workbench_env
from workbench.store import RunStore

SCRIPT = """
import argparse, sys
import workbench.compat.wandb as wandb

args = argparse.Namespace(batch_size=32, n_layer=2)
run = wandb.init(project="shakespeare", name="wb-compat", config=args, tags=["compat"],
                 dir=sys.argv[1])
wandb.config.lr = 3e-4                       # attribute access
wandb.config["warmup"] = 10                  # dict access
wandb.config.update({"dropout": 0.1})
assert wandb.config.batch_size == 32 and wandb.config["lr"] == 3e-4 and "dropout" in wandb.config
for i in range(5):
    wandb.log({"loss": 3.0 - i * 0.5, "train": {"acc": 0.1 * i}})   # steps 0..4
wandb.log({"val_loss": 1.9}, step=4)
wandb.log({"lr": 1e-4}, commit=False)
wandb.log({"grad_norm": 0.5})
wandb.summary["best_val"] = 1.9
assert wandb.summary["loss"] == 1.0 and wandb.summary["best_val"] == 1.9
print(run.name, flush=True)
if sys.argv[2] == "fail":
    wandb.finish(exit_code=1)
else:
    wandb.finish()
assert wandb.run is None
"""


@pytest.mark.parametrize("mode", ["ok", "fail"])
def test_wandb_script_records_into_the_store(tmp_path, mode):
    script = tmp_path / "wandb_script.py"
    script.write_text(textwrap.dedent(SCRIPT))
    p = subprocess.run([sys.executable, str(script), str(tmp_path), mode], capture_output=True, text=True,
                       env=workbench_env(), timeout=60)
    assert p.returncode == 0, p.stderr
    run = RunStore(tmp_path / "runs").resolve(p.stdout.strip())
    info = run.info()
    assert info.status == ("finished" if mode == "ok" else "failed")
    assert info.kind == "script" and info.experiment == "wb-compat"
    assert info.tags == ["compat", "project:shakespeare"]
    assert run.config_values() == {"batch_size": 32, "n_layer": 2, "lr": 3e-4, "warmup": 10, "dropout": 0.1}
    r = run.reader()
    rows, _ = r.scalars_since(0)
    got = {(s.key, s.step): s.value for s in rows}
    r.close()
    assert [got[("train/loss", i)] for i in range(5)] == [3.0, 2.5, 2.0, 1.5, 1.0]
    assert got[("train/acc", 4)] == pytest.approx(0.4)
    assert got[("eval/val_loss", 4)] == 1.9
    assert got[("train/lr", 4)] == 1e-4 and got[("train/grad_norm", 4)] == 0.5  # commit=False: same step
    assert got[("summary/best_val", 4)] == 1.9
    assert info.summary["best_val_loss"] == 1.9
