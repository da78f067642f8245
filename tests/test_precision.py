"""Precision chosen by the hardware (tenderlib.precision) and attention kept in fp32 under CPU autocast."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import torch
from torch import nn

from tenderlib import precision, seeding, training
from tenderlib.models import layers


def test_resolve_forced_modes_and_bad_input():
    assert precision.resolve("off", "cpu") == "off"
    assert precision.resolve("bf16", "cpu") == "bf16"
    assert precision.resolve("auto", "cpu") in ("bf16", "off")
    with pytest.raises(ValueError, match="autocast must be one of"):
        precision.resolve("fp8", "cpu")
    assert "autocast auto ->" in precision.describe()


@pytest.mark.parametrize("native, speedup, expected", [
    (False, 0.0, "off"),  # no native bf16: never timed
    (True, 0.5, "off"),   # native but slower (AVX-512 BF16 without AMX on some Intel Xeons)
    (True, 1.0, "off"),   # no faster: not worth the rounding
    (True, 1.6, "bf16"),  # faster (AVX-512 BF16 on AMD EPYC)
    (True, 7.0, "bf16"),  # AMX
])
def test_auto_picks_bf16_on_cpu_only_where_it_is_measured_faster(monkeypatch, native, speedup, expected):
    precision.cpu_bf16_speedup.cache_clear()
    monkeypatch.setattr(precision, "cpu_has_fast_bf16", lambda: native)
    monkeypatch.setattr(torch, "mm", lambda a, b: time.sleep(0.002 * (1 if a.dtype == torch.float32 else 1 / speedup)
                                                              if native else 0))
    try:
        measured = precision.cpu_bf16_speedup(size=8, repeats=2)
        assert (measured == 0.0) if not native else abs(measured / speedup - 1) < 0.5
        assert precision.resolve("auto", "cpu") == expected
    finally:
        precision.cpu_bf16_speedup.cache_clear()


def test_auto_is_fp32_when_the_kernels_are_held_to_avx2():
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
    out = subprocess.run([sys.executable, "-c", "from tenderlib import precision; print(precision.resolve('auto', 'cpu'))"],
                         env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert out == "off"


def test_attention_runs_in_fp32_under_cpu_autocast():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 4, 10, 16, generator=g) for _ in range(3))
    mask = torch.ones(2, 1, 1, 10, dtype=torch.bool)
    mask[1, ..., 7:] = False
    exact = layers.attention(q, k, v, mask)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = layers.attention(q.bfloat16(), k.bfloat16(), v.bfloat16(), mask)
    assert y.dtype == torch.bfloat16
    assert torch.allclose(y.float(), exact, atol=3e-2)  # only the inputs' and output's rounding


class _Data(torch.utils.data.Dataset):
    def __init__(self):
        g = torch.Generator().manual_seed(3)
        self.x = torch.randn(128, 12, 16, generator=g)  # (N, S, D)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, k):
        return self.x[k]


def _loss(model, x):
    return nn.functional.mse_loss(model(x), x.flip(1))


def _train(autocast: str) -> list[float]:
    seeding.seed_everything(0)
    model = layers.SkipTransformer(16, 3, 2, 32, dropout=0.0)
    cfg = training.TrainConfig(max_steps=40, batch_size=16, lr=3e-3, progress="off", autocast=autocast, log_every=5)
    result = training.train(model, _Data(), cfg, loss_fn=_loss, collate_fn=torch.stack)
    return [h["loss"] for h in result.history]


def test_bf16_and_fp32_training_agree(one_torch_thread):
    fp32, bf16 = _train("off"), _train("bf16")
    assert fp32[-1] < 0.8 * fp32[0], "the tiny model learns"
    assert fp32 != bf16, "the bf16 run did run in bf16"
    for a, b in zip(fp32, bf16):
        assert abs(a - b) <= 0.05 * a, (fp32, bf16)
