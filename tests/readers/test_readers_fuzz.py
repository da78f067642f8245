"""A small reader fuzz (the full one: tests/benchmarks/bench_fuzz_readers.py): mutated pickles,
JSON and BVH files imported in a child process under a memory limit: no crash, no import lost, the
report adds up."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_fuzz_readers.py"


@pytest.mark.skipif(sys.platform != "linux", reason="the child's memory limit (RLIMIT_AS) is Linux's")
@pytest.mark.parametrize("seed", [11, 12])
def test_mutated_inputs_never_crash_or_lose_the_import(seed):
    out = subprocess.run([sys.executable, str(BENCH), "--n", "80", "--seed", str(seed), "--mem-mb", "768", "--json"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = json.loads(out.stdout.strip().splitlines()[-1])
    assert [r["format"] for r in rows] == ["pkl", "json", "bvh"]
    for r in rows:
        assert r["finished"], r  # the child exited normally: no segfault, no exception out of the import
        assert r["adds_up"], r  # every file is stored or rejected, once
        assert r["stored"] >= 1 and r["rejected"] >= 1 and r["clips"] == r["stored"]  # one view per BVH
        assert r["peak_mb"] < 768
