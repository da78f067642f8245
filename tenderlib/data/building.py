"""A store is built atomically: a hidden folder, a lock held while building, the leftovers of killed builds.

A build writes into a hidden sibling folder `.<name>.building-<id>` and renames it into place
after its manifest, so an interrupted build never leaves a folder that `Store` accepts. A build
killed outright (SIGKILL, power loss) cannot delete its hidden folder; each build holds an advisory
lock (flock on `.<name>.building-<id>.lock`, released by the kernel when the process dies) and
`clean_stale_builds` removes the folders whose lock is free; every build of a path and
`synthetic.get_store` run it first, so an interrupted build is restarted by building again.
"""
from __future__ import annotations

import glob
import logging
import os
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

try:
    import fcntl
except ImportError:  # Windows: no flock; stale build folders are then left for the user to delete
    fcntl = None

_HELD_LOCKS: set[int] = set()  # descriptors of the build locks this process holds


def _close_locks_in_child() -> None:
    """In a forked child (a generator's worker pool), drop the inherited lock descriptors, so that
    a build whose process is killed frees its lock even while orphaned workers linger."""
    for fd in list(_HELD_LOCKS):
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD_LOCKS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_locks_in_child)


def building_folder(path: Path, build_id: str) -> Path:
    return path.parent / f".{path.name}.building-{build_id}"


class BuildLock:
    """flock on `.<name>.building-<id>.lock`, held for the whole build; the kernel releases it when
    the process ends, however it ends. Locked under a temporary name, then renamed, so the lock file
    is never seen unlocked by `clean_stale_builds`."""

    def __init__(self, path: Path, build_id: str):
        self.path = building_folder(path, build_id).with_name(building_folder(path, build_id).name + ".lock")
        self.fd = None
        if fcntl is None:
            return
        pending = self.path.with_name(self.path.name + "ing")  # .lock -> .locking
        self.fd = os.open(pending, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        _HELD_LOCKS.add(self.fd)
        os.write(self.fd, f"pid {os.getpid()}\n".encode())
        os.rename(pending, self.path)

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        _HELD_LOCKS.discard(self.fd)
        os.close(self.fd)
        self.fd = None


def _lock_is_free(lock: Path) -> bool:
    """True if no live process holds the flock on `lock` (or the file is gone)."""
    try:
        fd = os.open(lock, os.O_RDWR)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing drops the probe's lock, if it got one


def clean_stale_builds(path) -> list[Path]:
    """Remove the leftovers of builds of `path` that were killed (SIGKILL, power loss) before they
    could clean up: hidden `.<name>.building-<id>` folders, `.<name>.old-<id>` folders of an
    interrupted overwrite, and their lock files, whose lock no live process holds. Builds in progress,
    in this process or any other on this machine, are left alone. Returns the folders removed.
    Where flock is missing (Windows) nothing is removed and a warning names the folders.
    """
    path = Path(path)
    if not path.parent.is_dir():
        return []
    stem = glob.escape(f".{path.name}.")
    found = sorted(path.parent.glob(stem + "building-*")) + sorted(path.parent.glob(stem + "old-*"))
    if fcntl is None:
        if found:
            log.warning("cannot tell killed builds from running ones without flock; delete by hand if stale: %s",
                        [str(p) for p in found])
        return []
    removed = []
    by_id: dict[str, list[Path]] = {}
    for p in found:
        kind, _, rest = p.name[len(path.name) + 2:].partition("-")
        by_id.setdefault(rest.split(".")[0], []).append(p)
    for build_id, items in sorted(by_id.items()):
        lock = building_folder(path, build_id).with_name(building_folder(path, build_id).name + ".lock")
        if not (_lock_is_free(lock) and _lock_is_free(lock.with_name(lock.name + "ing"))):
            continue
        for p in items:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p)
                log.warning("removed %s, left by a build that was killed", p)
            else:
                p.unlink(missing_ok=True)
    return removed


def check_target(path: Path, overwrite: bool) -> None:
    if not path.exists():
        return
    if not overwrite:
        raise ValueError(f"path {str(path)!r} already exists; pass overwrite=True to replace a store")
    is_store = (path / "manifest.json").is_file()
    if not path.is_dir() or not (is_store or not any(path.iterdir())):
        raise ValueError(f"path {str(path)!r} exists and is not a store or an empty folder; refusing to overwrite it")
