"""The logging window's read (one sync for losses and grad norms) and the weights check."""

from __future__ import annotations

import math

import pytest
import torch

from workbench.train_state import TrainState
from workbench.window import Window


class CountingTensor(torch.Tensor):
    """Counts .tolist() calls: each is a host sync on a GPU."""

    calls = 0

    def tolist(self):
        CountingTensor.calls += 1
        return super().tolist()


@pytest.mark.parametrize("with_norms", [True, False])
def test_read_is_one_sync_and_empties_the_window(with_norms, monkeypatch):
    w = Window()
    for i in range(3):
        w.add(torch.tensor(1.0 + i), torch.tensor(0.5 * i) if with_norms else None, timed=True)
    real_stack = torch.stack
    monkeypatch.setattr(torch, "stack", lambda *a, **k: real_stack(*a, **k).as_subclass(CountingTensor))
    CountingTensor.calls = 0
    losses, norms = w.read(lambda t: t * 2)  # the reduction applies to the losses only
    assert CountingTensor.calls == 1
    assert losses == [2.0, 4.0, 6.0]
    assert norms == ([0.0, 0.5, 1.0] if with_norms else [None, None, None])
    assert w.losses == [] and w.norms == [] and w.steps == 3


def test_weights_finite():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    st = TrainState(model, torch.optim.SGD(model.parameters()), torch.amp.GradScaler("cpu", enabled=False))
    assert st.weights_finite()
    with torch.no_grad():
        model[1].bias.fill_(math.inf)
    assert not st.weights_finite()
