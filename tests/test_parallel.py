"""Runs side by side give the numbers of runs one after another (tenderlib.parallel)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from tenderlib import parallel, training


class _Data(torch.utils.data.Dataset):
    def __init__(self, n: int = 64):
        g = torch.Generator().manual_seed(1)
        self.x = torch.randn(n, 8, generator=g)  # (N, 8)
        self.y = self.x @ torch.randn(8, 1, generator=g)  # (N, 1)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, k):
        return self.x[k], self.y[k]


def _collate(items):
    return torch.stack([a for a, _ in items]), torch.stack([b for _, b in items])


def _loss(model, batch):
    x, y = batch
    return nn.functional.mse_loss(model(x), y)


def train_tiny(seed: int) -> list[float]:
    """A small MLP trained 30 steps with dropout (the per-step RNG matters): its weights as floats."""
    training.seed_everything(seed)
    model = nn.Sequential(nn.Linear(8, 32), nn.GELU(), nn.Dropout(0.1), nn.Linear(32, 1))
    cfg = training.TrainConfig(seed=seed, max_steps=30, batch_size=16, lr=1e-2, progress="off", autocast="off")
    training.train(model, _Data(), cfg, loss_fn=_loss, collate_fn=_collate)
    return torch.cat([p.detach().flatten() for p in model.parameters()]).tolist()


def fails(task: int) -> int:
    if task == 1:
        raise RuntimeError("task 1 broke")
    return task


def test_two_processes_give_the_numbers_of_one(one_torch_thread):
    one = parallel.map_runs(train_tiny, [0, 1, 2], jobs=1)
    two = parallel.map_runs(train_tiny, [0, 1, 2], jobs=2)
    assert one == two, "bit-identical weights, in task order"
    assert one[0] != one[1]


def test_bad_input():
    for jobs in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="jobs must be an int >= 1"):
            parallel.map_runs(train_tiny, [0], jobs=jobs)
    with pytest.raises(ValueError, match="module-level function"):
        parallel.map_runs(lambda t: t, [0], jobs=2)
    with pytest.raises(RuntimeError, match="task 1 broke"):
        parallel.map_runs(fails, [0, 1, 2], jobs=2)
    assert parallel.map_runs(fails, [0, 2], jobs=2) == [0, 2]
    assert parallel.default_jobs() >= 1
