"""Inputs without trust: listing a dataset folder, and what one input may cost.

Listing. 
A downloaded or hand-made dataset folder can hold more than regular files: links that point
nowhere or at themselves, links that leave the folder (to a secrets file, to /dev/zero), named
pipes, sockets and devices (opening one for reading blocks or never ends), and names that are not
UTF-8 (they cannot be written into a store or a report). `list_files` walks a folder and sorts
every entry into

    files      regular files, or links to regular files inside the root (listed under the link's path)
    rejected   an `Outcome.reject` per entry that is none of these, with its reason and a kind:
               'bad-name', 'dangling-link', 'link-loop', 'link-outside', 'special-file'

Special files are classified from `lstat` / `stat` and never opened. Folders are descended; a link
to a folder is not followed (inside the root, that folder is listed under its own path; outside,
it is 'link-outside') and is rejected as 'folder-link'. Every
reader lists its folder with `list_files`, and checks the files it derives from an input (a
caption beside a keypoint file, a label JSON beside a BVH) with `regular_file`, which raises the
same rejections as `ReaderError`s.

Cost. `Limits` bounds what one input may make a reader read or build (file bytes, frames, people
per frame), checked before anything of that size exists; an input beyond a limit is rejected (or,
for people in a crowd, cut to the most salient) with the limit's name, which a user can raise in
the reader's config (`HolisticConfig(limits=Limits(max_frames=...))`).
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from tenderlib.readers.report import Outcome, ReaderError

REJECT_KINDS = ("bad-name", "dangling-link", "folder-link", "link-loop", "link-outside", "special-file")


@dataclass(frozen=True)
class Limits:
    """What one input may cost, checked before anything of that size is read or built."""

    max_file_bytes: int = 1 << 30        # bytes of one file (1 GiB); larger: rejected unread
    max_frames: int = 36_000             # frames of one clip (20 minutes at 30 fps); longer: rejected
    max_missing: float = 0.5             # share of a clip's frame_id span that may be missing; more: rejected
    max_people: int = 16                 # people kept per frame (the most salient); more: cut, noted
    max_person_frames: int = 100_000     # people x frames tracked; fewer people per frame kept beyond it

    def __post_init__(self):
        for name in ("max_file_bytes", "max_frames", "max_people", "max_person_frames"):
            v = getattr(self, name)
            if not (isinstance(v, int) and not isinstance(v, bool) and v >= 1):
                raise ValueError(f"Limits.{name} must be an int >= 1, got {v!r}")
        if not (isinstance(self.max_missing, (int, float)) and 0 <= self.max_missing < 1):
            raise ValueError(f"Limits.max_missing must be in [0, 1), got {self.max_missing!r}")

    def check_frames(self, frames: int, what: str) -> None:
        """ReaderError 'too-large' if a clip of `frames` frames is beyond max_frames."""
        if frames > self.max_frames:
            raise ReaderError(f"{what}: {frames:,} frames, more than Limits.max_frames={self.max_frames:,} (raise it "
                              f"in the reader's config for longer clips)", "too-large")


def read_bytes(path: Path, limits: Limits = Limits()) -> bytes:
    """The bytes of a regular file no larger than limits.max_file_bytes (checked before reading).
    ReaderError 'too-large', or 'unreadable' naming the OS error."""
    try:
        size = path.stat().st_size
        if size > limits.max_file_bytes:
            raise ReaderError(f"{shown(path)}: {size:,} bytes, more than Limits.max_file_bytes="
                              f"{limits.max_file_bytes:,}", "too-large")
        return path.read_bytes()
    except OSError as e:
        raise ReaderError(f"{shown(path)}: cannot read file: {e.strerror or e}", "unreadable") from None


def shown(path) -> str:
    """The path as a message can print it: undecodable bytes of a non-UTF-8 name as \\x escapes."""
    text = str(path)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return os.fsencode(text).decode("utf-8", errors="backslashreplace")


def _inside(target: Path, root: Path) -> bool:
    return target == root or root in target.parents


def _classify(path: Path, root: Path) -> tuple[str, Path | None, str | None]:
    """('file' | 'dir' | 'reject', resolved target, reason kind) of one entry; nothing is opened."""
    try:
        path.name.encode("utf-8")
    except UnicodeEncodeError:
        return "reject", None, "bad-name"
    st = path.lstat()
    target = path
    if stat.S_ISLNK(st.st_mode):
        try:
            target = path.resolve(strict=True)
        except FileNotFoundError:
            return "reject", None, "dangling-link"
        except (RuntimeError, OSError):  # a loop of links (ELOOP, or pathlib's RuntimeError)
            return "reject", None, "link-loop"
        if not _inside(target, root):
            return "reject", target, "link-outside"
        st = target.stat()
    if stat.S_ISDIR(st.st_mode):
        return ("reject", target, "folder-link") if target is not path else ("dir", target, None)
    if stat.S_ISREG(st.st_mode):
        return "file", target, None
    return "reject", target, "special-file"


_REASONS = {
    "bad-name": "the file name is not UTF-8 (rename it)",
    "dangling-link": "a link to nothing",
    "folder-link": "a link to the folder {target}, not followed (a folder inside the dataset is read at its own path)",
    "link-loop": "a link that leads back to itself or a folder above it",
    "link-outside": "a link to {target}, outside the dataset folder {root} (not followed)",
    "special-file": "not a regular file (a pipe, socket or device; not opened)",
}


def _reason(path: Path, kind: str, target: Path | None, root: Path) -> str:
    return f"{shown(path)}: " + _REASONS[kind].format(target=shown(target), root=shown(root))


def list_files(folder, *, root=None, recursive: bool = True) -> tuple[list[Path], list[Outcome]]:
    """Every entry under `folder` -> (sorted regular files, rejections of the rest). Links must stay
    inside `root` (default: `folder`). `folder` itself must be a folder (a link to one is followed);
    recursive=False lists its own entries and ignores its sub-folders."""
    folder = Path(folder)
    real_root = Path(root if root is not None else folder).resolve()
    if not folder.is_dir():
        raise ValueError(f"{shown(folder)!r} is not a folder")
    files: list[Path] = []
    rejected: list[Outcome] = []
    stack = [folder]
    while stack:
        for path in sorted(stack.pop().iterdir()):
            kind, target, why = _classify(path, real_root)
            if kind == "file":
                files.append(path)
            elif kind == "dir":
                if recursive:
                    stack.append(path)
            else:
                rejected.append(Outcome.reject(shown(path), _reason(path, why, target, real_root), why))
    return sorted(files), sorted(rejected, key=lambda o: o.path)


def regular_file(path, root) -> Path:
    """`path` if it is a regular file (or a link to one) inside `root`; ReaderError naming why not
    (kind 'missing' when there is nothing at `path`)."""
    path, real_root = Path(path), Path(root).resolve()
    if not path.is_symlink() and not path.exists():
        raise ReaderError(f"{shown(path)}: no such file", "missing")
    kind, target, why = _classify(path, real_root)
    if kind == "file":
        return path
    if kind == "dir":
        raise ReaderError(f"{shown(path)}: a folder, not a file", "special-file")
    raise ReaderError(_reason(path, why, target, real_root), why)


def folders(folder, *, root=None) -> list[Path]:
    """The sub-folders of `folder` that `list_files` descends (real folders with UTF-8 names), sorted."""
    folder = Path(folder)
    real_root = Path(root if root is not None else folder).resolve()
    return sorted(p for p in folder.iterdir() if _classify(p, real_root)[0] == "dir")
