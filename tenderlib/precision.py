"""Arithmetic chosen by the hardware: bf16 autocast where it is faster, fp32 elsewhere.

    resolve("auto", device)  -> "bf16" or "off"     what `TrainConfig.autocast="auto"` trains in
    autocast(mode, device)   -> a context manager   torch.autocast(bf16) or nothing
    describe()               -> str                 the CPU's name, its kernels and what "auto" picks

"auto" picks bf16 on CUDA GPUs that support it, and on CPUs where a bf16 matmul is measured to be
at least BF16_MIN_SPEEDUP times an fp32 one. A CPU must first have native bf16 instructions (AMX-BF16
or AVX-512 BF16) that torch's kernels may use; then one 1024^3 matmul in each precision is timed
(best of 3, about 0.1 s, once per process), because the flags do not tell the speed: with AMX a bf16
matmul is about 7x fp32; on an AMD EPYC with AVX-512 BF16 bf16 training steps were 1.24-1.55x
faster; on an Intel Xeon with AVX-512 BF16 and no AMX the bf16 matmul measured 0.50x fp32 (83 vs
165 GFLOP/s, one thread) and training steps 0.67-0.75x. On CPUs with AVX2 only bf16 is emulated,
6-8x slower, and "auto" stays in fp32 without timing. A process that caps the kernels
(`ATEN_CPU_CAPABILITY=avx2`, `ONEDNN_MAX_CPU_ISA=AVX2`, the way to emulate an AVX2 machine on a
newer one) gets fp32 too.

Attention stays in fp32 under CPU autocast (tenderlib.models.layers.attention): torch's CPU
flash-attention backward in bf16 is an order of magnitude slower than in fp32, and the attention
softmax is where bf16 costs accuracy. Matmuls of the linear layers and the feed-forward blocks,
where the time goes, run in bf16; the residual stream and the optimiser state stay fp32.
"""
from __future__ import annotations

import functools
import os
import platform
import time
from contextlib import nullcontext

import torch

MODES = ("auto", "bf16", "off")
BF16_MIN_SPEEDUP = 1.2  # "auto" trains in bf16 on a CPU only where its matmul is at least this much faster
# oneDNN ISA caps (ONEDNN_MAX_CPU_ISA) under which its bf16 kernels are native
_BF16_ISAS = ("AVX512_CORE_BF16", "AVX512_CORE_AMX", "AVX512_CORE_AMX_FP16", "AVX10_1_512_AMX", "AVX10_1_512_AMX_FP16",
              "AVX10_2_512_AMX_2", "ALL", "DEFAULT")


def cpu_has_fast_bf16() -> bool:
    """True when this CPU's kernels can do bf16 matmuls natively (AMX-BF16 or AVX-512 BF16) and no
    environment variable caps them below that."""
    if torch.backends.cpu.get_cpu_capability() not in ("AVX512", "AVX512_BF16", "AMX"):
        return False  # AVX2 or less, or ATEN_CPU_CAPABILITY capped it
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "").strip().upper()
    if isa and isa not in _BF16_ISAS:
        return False
    amx = getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)()
    avx512_bf16 = getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)()
    return bool(amx or avx512_bf16)


@functools.lru_cache(maxsize=None)
def cpu_bf16_speedup(size: int = 1024, repeats: int = 3) -> float:
    """Measured time of a size^3 fp32 matmul over a bf16 one on this CPU (best of `repeats` each,
    the current thread count), or 0.0 where bf16 is not native (cpu_has_fast_bf16). Once per process."""
    if not cpu_has_fast_bf16():
        return 0.0
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(size, size, generator=g), torch.randn(size, size, generator=g)

    def best(x, y) -> float:
        torch.mm(x, y)  # warm-up: kernel selection, packing buffers
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            torch.mm(x, y)
            times.append(time.perf_counter() - t0)
        return min(times)

    return best(a, b) / best(a.bfloat16(), b.bfloat16())


def resolve(mode: str, device: torch.device | str) -> str:
    """'bf16' or 'off' for a TrainConfig.autocast value on `device` (module docstring)."""
    if mode not in MODES:
        raise ValueError(f"autocast must be one of {MODES}, got {mode!r}")
    if mode != "auto":
        return mode
    device = torch.device(device)
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "off"
    if device.type == "cpu":
        return "bf16" if cpu_bf16_speedup() >= BF16_MIN_SPEEDUP else "off"
    return "off"


def autocast(mode: str, device: torch.device | str):
    """torch.autocast in bf16 when resolve(mode, device) says so, else a no-op context."""
    device = torch.device(device)
    if resolve(mode, device) == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


def cpu_name() -> str:
    """The CPU's model name (Linux /proc/cpuinfo; else platform.processor())."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe() -> str:
    """One line for benchmark tables and logs: CPU, torch's kernel level, native bf16, what auto picks."""
    amx = getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)()
    bf16 = getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)()
    return (f"{cpu_name()}; torch kernels {torch.backends.cpu.get_cpu_capability()}, "
            f"AMX-BF16 {'yes' if amx else 'no'}, AVX512-BF16 {'yes' if bf16 else 'no'}; "
            f"bf16 matmul {cpu_bf16_speedup():.2f}x fp32; "
            f"{torch.get_num_threads()} thread(s); autocast auto -> {resolve('auto', 'cpu')} on CPU")
