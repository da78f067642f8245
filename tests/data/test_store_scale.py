"""Store at scale: bounded generation (back-pressure), builds without 3D, and the restart of a build
killed outright (SIGKILL), which leaves hidden folders that must never load and must be cleaned up."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from tenderlib import synthetic
from tenderlib.data.building import clean_stale_builds
from tenderlib.data.store import Store, build_store

fcntl = pytest.importorskip("fcntl", reason="stale-build detection needs flock (POSIX)")

REPO = Path(__file__).resolve().parents[2]


_STARTED_LOG: list[Path] = []  # where _counting_chunk writes (set before the pool forks)
_REAL_CHUNK = synthetic._chunk


def _counting_chunk(args):  # module level, so the pool can pickle it by name; the workers inherit the log path
    with open(_STARTED_LOG[0], "a") as f:
        f.write(f"{args[1]}\n")
    return _REAL_CHUNK(args)


def test_generate_keeps_at_most_in_flight_chunks_ahead_of_a_slow_consumer(tmp_path, monkeypatch):
    log = tmp_path / "started"
    monkeypatch.setattr(sys.modules[__name__], "_STARTED_LOG", [log])
    monkeypatch.setattr(synthetic, "_chunk", _counting_chunk)
    cfg = synthetic.SyntheticConfig(num_clips=48, seed=2, sources=("syn-sthv2",))  # short clips: fast
    it = synthetic.generate(cfg, workers=2, chunk=4, in_flight=2)
    clips = [next(it)]  # the first chunk is consumed, two more are submitted
    deadline = time.monotonic() + 30
    while len(log.read_text().split()) < 3 and time.monotonic() < deadline:  # a loaded machine is slow to start
        time.sleep(0.05)
    time.sleep(1.0)  # a slow writer: without back-pressure the workers would make all 12 chunks by now
    started = log.read_text().split()
    assert len(started) == 3, started
    clips += list(it)
    assert len(log.read_text().split()) == 12
    monkeypatch.undo()
    assert [m.clip_id for m in clips] == [m.clip_id for m in synthetic.generate(cfg, workers=1)]


def test_generate_rejects_bad_arguments():
    cfg = synthetic.SyntheticConfig(num_clips=4)
    for kwargs, word in ((dict(workers=0), "workers"), (dict(chunk=0), "chunk"), (dict(in_flight=0), "in_flight"),
                         (dict(start=3, stop=2), "start and stop"), (dict(stop=5), "start and stop")):
        with pytest.raises(ValueError, match=word):
            next(synthetic.generate(cfg, **kwargs))


def test_keep_3d_false_stores_no_3d(tmp_path):
    cfg = synthetic.SyntheticConfig(num_clips=6, seed=1, keep_3d=False)
    with_3d = synthetic.make_clips(synthetic.SyntheticConfig(num_clips=6, seed=1), range(6))
    store = build_store(synthetic.generate(cfg, workers=1), tmp_path / "s")
    assert not np.asarray(store.index.has_3d).any() and store.manifest["num_frames_3d"] == 0
    assert not (tmp_path / "s" / "frames_3d.npy").exists()
    for i, m in enumerate(with_3d):  # the 2D is the same clip as with 3D
        assert store.clip(i).keypoints.tobytes() == m.keypoints.tobytes()
    with pytest.raises(ValueError, match="keep_3d"):
        synthetic.SyntheticConfig(keep_3d="no")


_KILLED_BUILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from tenderlib import synthetic

    marker = Path(sys.argv[1])
    cfg = synthetic.SyntheticConfig(num_clips=100_000, seed=9, sources=("syn-sthv2",))

    def slow():
        for i, m in enumerate(synthetic.generate(cfg, workers=2, chunk=8)):
            yield m
            if i == 40:
                marker.write_text("packing")
                time.sleep(120)  # killed here

    synthetic.store.build_store(slow(), Path(sys.argv[2]))
""")


def _start_killable_build(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    marker, target = tmp_path / "marker", tmp_path / "stores" / "s"
    script = tmp_path / "build.py"
    script.write_text(_KILLED_BUILD.replace("synthetic.store.", "__import__('tenderlib.data.store').data.store."))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, str(script), str(marker), str(target)], env=env,
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"build script died: {proc.stderr.read().decode()[-2000:]}")
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError("build script did not start packing in 60 s")
        time.sleep(0.05)
    return proc, target


def test_sigkilled_build_leaves_nothing_loadable_and_is_restarted(tmp_path):
    proc, target = _start_killable_build(tmp_path)
    try:
        leftovers = sorted(p.name for p in target.parent.iterdir())
        assert any(n.startswith(".s.building-") and not n.endswith(".lock") for n in leftovers), leftovers
        assert clean_stale_builds(target) == []  # the build is alive: its folder is left alone
        os.kill(proc.pid, signal.SIGKILL)  # the parent only: its forked workers are orphaned, still alive
        proc.wait(timeout=30)
        assert not target.exists()
        with pytest.raises(ValueError, match="store path"):
            Store(target)
        building = [p for p in target.parent.iterdir() if p.is_dir()]
        assert building and all(p.name.startswith(".s.building-") for p in building)
        with pytest.raises(ValueError, match="no manifest.json"):
            Store(building[0])  # the half-written folder never loads as a store
        # the workers inherited the lock descriptor but dropped it at fork: the lock is free
        removed = clean_stale_builds(target)
        assert sorted(removed) == sorted(building)
        assert list(target.parent.iterdir()) == []  # folder and lock file gone
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the orphaned workers
        except ProcessLookupError:
            pass
    cfg = synthetic.SyntheticConfig(num_clips=20, seed=9, sources=("syn-sthv2",))
    store = build_store(synthetic.generate(cfg, workers=1), target)  # the restart
    assert len(store) == 20 and sorted(p.name for p in target.parent.iterdir()) == ["s"]


def test_build_cleans_leftovers_of_its_own_path_only(tmp_path):
    stores = tmp_path / "stores"
    stores.mkdir()
    stale = stores / ".s.building-0123456789ab"
    stale.mkdir()
    (stale / "frames.npy").write_bytes(b"\0" * 300)
    (stores / ".s.building-0123456789ab.lock").write_text("pid 1")  # nobody holds its lock
    old = stores / ".s.old-ba9876543210"
    old.mkdir()
    other = stores / ".t.building-0123456789ab"
    other.mkdir()
    live = stores / ".s.building-aaaaaaaaaaaa"
    live.mkdir()
    lock = stores / ".s.building-aaaaaaaaaaaa.lock"
    fd = os.open(lock, os.O_CREAT | os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a build in progress (here: this process)
    try:
        build_store(synthetic.generate(synthetic.SyntheticConfig(num_clips=3, sources=("syn-caer",)), workers=1),
                    stores / "s")
        names = sorted(p.name for p in stores.iterdir())
        assert names == sorted(["s", other.name, live.name, lock.name]), names
    finally:
        os.close(fd)
    assert clean_stale_builds(stores / "s") == [live]
    assert sorted(p.name for p in stores.iterdir()) == sorted(["s", other.name])
