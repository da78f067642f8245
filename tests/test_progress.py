"""Progress lines outside the notebooks (tenderlib.progress), and the training loop's use of them."""
from __future__ import annotations

import torch
from torch import nn

from tenderlib import progress, training


def test_report_appends_lines_only_when_asked(tmp_path, monkeypatch):
    path = tmp_path / "progress.log"
    monkeypatch.delenv(progress.ENV, raising=False)
    progress.report("nobody listens")
    assert not path.exists()
    monkeypatch.setenv(progress.ENV, str(path))
    progress.report("first")
    progress.report("second\nline")
    lines = path.read_text().splitlines()
    assert [line.split("\t")[2] for line in lines] == ["first", "second line"]


def test_eta():
    assert progress.eta(0, 10, 5.0) == "" and progress.eta(10, 10, 5.0) == ""
    assert progress.eta(5, 10, 10.0) == "ETA 10 s"
    assert progress.eta(1, 100, 60.0) == "ETA 99 min"


class _Data(torch.utils.data.Dataset):
    def __len__(self):
        return 32

    def __getitem__(self, k):
        return torch.full((4,), float(k))


def test_training_reports_steps_with_an_eta(tmp_path, monkeypatch):
    path = tmp_path / "progress.log"
    monkeypatch.setenv(progress.ENV, str(path))
    model = nn.Linear(4, 1)
    cfg = training.TrainConfig(max_steps=6, batch_size=8, log_every=2, progress="off", autocast="off")
    training.train(model, _Data(), cfg, tmp_path / "run-abc", loss_fn=lambda m, x: m(x).pow(2).mean(),
                   collate_fn=torch.stack)
    messages = [line.split("\t")[2] for line in path.read_text().splitlines()]
    assert [m.split(",")[0] for m in messages] == [f"train run-abc: step {s}/6" for s in (2, 4, 6)]
    assert "ETA" in messages[0]
