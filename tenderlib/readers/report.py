"""What a reader did with every input: a `BuildReport`, and `Reading`, the object readers return.

A reader never dies on one bad file and never drops one silently. Each input (a pkl, a JSON, a
BVH file) ends as exactly one `Outcome`: it became one or more Motions (a BVH clip filmed from
several virtual cameras gives several), or it is `Rejected` with a reason. The report keeps both
lists, so that

    report.num_inputs == report.num_accepted + report.num_rejected        (`report.check()`)

and every path appears once. Stored clips may carry notes (a repair that kept the clip: masked
NaN keypoints, an estimated image size, a replaced undecodable caption byte). Files that are no
input but were found beside the inputs (a caption without a keypoint file) are listed apart as
`unmatched`.

A reader function returns a `Reading`: iterate it for the Motions (the report fills as it goes,
`report.complete` turns True at the end; iterating again re-reads and starts a fresh report).
`build(readings, path)` packs one or more readings into a store (tenderlib.data.store) and writes the
report beside the manifest as build_report.json and build_report.md.
"""
from __future__ import annotations

import json
import logging
import multiprocessing as mp
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from tenderlib.data.motion import Motion

logger = logging.getLogger(__name__)

REPORT_JSON = "build_report.json"
REPORT_MD = "build_report.md"


class ReaderError(ValueError):
    """An input cannot become a Motion. `kind` is a short category for the report's counts."""

    def __init__(self, message: str, kind: str = "invalid"):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Rejected:
    """An input that did not become a Motion, with the reason (which names the file and the problem)."""

    path: str
    reason: str
    kind: str = "invalid"  # short category, e.g. 'unsafe-pickle', 'keypoint-count', 'caption-missing'


@dataclass
class Outcome:
    """What one input became: Motions (accepted) or a rejection; notes on repairs either way."""

    path: str
    motions: list[Motion] = field(default_factory=list)
    rejected: Rejected | None = None
    notes: list[str] = field(default_factory=list)

    @classmethod
    def reject(cls, path, reason: str, kind: str = "invalid") -> "Outcome":
        return cls(str(path), rejected=Rejected(str(path), reason, kind))


@dataclass
class BuildReport:
    """Inputs accepted (path -> clip ids) or rejected (with reasons), notes, unmatched files."""

    reader: str
    root: str
    accepted: dict[str, list[str]] = field(default_factory=dict)  # input path -> clip ids it gave
    rejected: list[Rejected] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (path, note) of repaired inputs
    unmatched: list[str] = field(default_factory=list)  # files found beside the inputs, used by none
    complete: bool = False  # True once the reading was iterated to the end
    _seen: set = field(default_factory=set, repr=False)

    @property
    def num_inputs(self) -> int:
        return len(self.accepted) + len(self.rejected)

    @property
    def num_accepted(self) -> int:
        return len(self.accepted)

    @property
    def num_rejected(self) -> int:
        return len(self.rejected)

    @property
    def num_motions(self) -> int:
        return sum(len(ids) for ids in self.accepted.values())

    def add(self, outcome: Outcome) -> None:
        """Record one input's outcome (each path at most once)."""
        if outcome.path in self._seen:
            raise ValueError(f"input {outcome.path!r} is recorded twice in the report")
        if outcome.rejected is not None:
            self.rejected.append(outcome.rejected)
        elif outcome.motions:
            self.accepted[outcome.path] = [m.clip_id for m in outcome.motions]
        else:
            raise ValueError(f"outcome of {outcome.path!r} has neither motions nor a rejection")
        self._seen.add(outcome.path)
        self.notes.extend((outcome.path, n) for n in outcome.notes)

    def reasons(self) -> Counter:
        """Counter of rejection kinds."""
        return Counter(r.kind for r in self.rejected)

    def check(self) -> "BuildReport":
        """Raise ValueError unless every input is listed exactly once; return self."""
        paths = list(self.accepted) + [r.path for r in self.rejected]
        dup = [p for p, c in Counter(paths).items() if c > 1]
        if dup:
            raise ValueError(f"report lists inputs more than once: {dup[:5]}")
        if self.num_inputs != self.num_accepted + self.num_rejected:  # pragma: no cover (by construction)
            raise ValueError("report counts do not add up")
        return self

    def summary(self) -> dict:
        return {"reader": self.reader, "root": self.root, "complete": self.complete,
                "inputs": self.num_inputs, "accepted": self.num_accepted, "rejected": self.num_rejected,
                "motions": self.num_motions, "notes": len(self.notes), "unmatched": len(self.unmatched),
                "rejected_by_kind": dict(sorted(self.reasons().items()))}

    def to_dict(self) -> dict:
        return {"summary": self.summary(), "accepted": self.accepted,
                "rejected": [asdict(r) for r in self.rejected],
                "notes": [{"path": p, "note": n} for p, n in self.notes], "unmatched": self.unmatched}

    def to_markdown(self, max_rows: int = 200) -> str:
        s = self.summary()
        lines = [f"# Build report: {self.reader}", "", f"root: `{self.root}`", "",
                 "| inputs | accepted | rejected | motions | notes | unmatched |", "|---|---|---|---|---|---|",
                 "| " + " | ".join(str(s[k]) for k in ("inputs", "accepted", "rejected", "motions", "notes",
                                                        "unmatched")) + " |"]
        if self.rejected:
            lines += ["", "## Rejected by kind", "", "| kind | count |", "|---|---|"]
            lines += [f"| {k} | {c} |" for k, c in sorted(self.reasons().items())]
            lines += ["", "## Rejected inputs", "", "| path | kind | reason |", "|---|---|---|"]
            lines += [f"| `{r.path}` | {r.kind} | {_md(r.reason)} |" for r in self.rejected[:max_rows]]
            if len(self.rejected) > max_rows:
                lines.append(f"| ... | | {len(self.rejected) - max_rows} more in {REPORT_JSON} |")
        if self.notes:
            lines += ["", "## Notes on stored inputs", "", "| path | note |", "|---|---|"]
            lines += [f"| `{p}` | {_md(n)} |" for p, n in self.notes[:max_rows]]
        if self.unmatched:
            lines += ["", f"## Unmatched files ({len(self.unmatched)})", ""]
            lines += [f"- `{p}`" for p in self.unmatched[:max_rows]]
        return "\n".join(lines) + "\n"

    def write(self, folder) -> tuple[Path, Path]:
        """Write build_report.json and build_report.md into `folder` (atomically, file by file)."""
        folder = Path(folder)
        out = []
        for name, text in ((REPORT_JSON, json.dumps(self.to_dict(), indent=1, ensure_ascii=False)),
                           (REPORT_MD, self.to_markdown())):
            tmp = folder / f".{name}.tmp"
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, folder / name)
            out.append(folder / name)
        return out[0], out[1]


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def unexpected(path, error: BaseException) -> Outcome:
    """The rejection of an input that raised something no reader check foresaw (the input's own
    fault, never the whole build's): the error's type and message, or that it ran out of memory."""
    if isinstance(error, MemoryError):
        return Outcome.reject(path, f"{path}: does not fit in memory (MemoryError while reading it)", "too-large")
    message = str(error) or "(no message)"
    return Outcome.reject(path, f"{path}: {type(error).__name__}: {message}", "invalid")


def _checked(outcome: Outcome, owners: dict[str, str]) -> Outcome:
    """The outcome, or its rejection when a Motion breaks the contract (Motion.validate, which the
    store also applies) or reuses the clip id of an earlier input (`owners`: clip id -> input)."""
    if outcome.rejected is not None:
        return outcome
    ids = [m.clip_id for m in outcome.motions]
    try:
        for m in outcome.motions:
            m.validate()
    except ValueError as e:
        return Outcome.reject(outcome.path, f"{outcome.path}: {e}", "invalid")
    except Exception as e:
        return unexpected(outcome.path, e)
    taken = [i for i in ids if i in owners]
    if taken or len(set(ids)) != len(ids):
        first = owners.get(taken[0], outcome.path) if taken else outcome.path
        return Outcome.reject(outcome.path, f"{outcome.path}: clip id {(taken or ids)[0]!r} is already taken by "
                                            f"{first} (two inputs that name the same clip)", "duplicate-id")
    owners.update((i, outcome.path) for i in ids)
    return outcome


# ---------------------------------------------------------------------------------------------
# Running a reader


def map_ordered(fn: Callable, tasks: Sequence, workers: int = 1, chunksize: int = 16) -> Iterator:
    """fn over tasks in order; with workers > 1 in a process pool (fn and tasks must pickle)."""
    if not (isinstance(workers, int) and workers >= 1):
        raise ValueError(f"workers must be an int >= 1, got {workers!r}")
    if workers == 1 or len(tasks) <= 1:
        yield from map(fn, tasks)
        return
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    with ctx.Pool(min(workers, len(tasks))) as pool:
        yield from pool.imap(fn, tasks, chunksize=chunksize)


class Reading:
    """Iterable of the Motions a reader makes; `report` lists what became of every input.

    produce(report) must yield Outcomes; Reading records each and yields its Motions.
    """

    def __init__(self, reader: str, root, produce: Callable[[BuildReport], Iterable[Outcome]]):
        self.reader, self.root, self._produce = reader, str(root), produce
        self.report = BuildReport(reader, self.root)
        self.owners: dict[str, str] | None = None  # clip id -> input, shared by the readings of one build

    def __iter__(self) -> Iterator[Motion]:
        self.report = report = BuildReport(self.reader, self.root)
        owners = {} if self.owners is None else self.owners
        for outcome in self._produce(report):
            outcome = _checked(outcome, owners)
            report.add(outcome)
            if outcome.rejected is not None:
                logger.info("%s: rejected %s: %s", self.reader, outcome.path, outcome.rejected.reason)
            yield from outcome.motions
        report.complete = True
        report.check()
        logger.info("%s: %d inputs, %d accepted (%d motions), %d rejected", self.reader, report.num_inputs,
                    report.num_accepted, report.num_motions, report.num_rejected)

    def __repr__(self) -> str:
        return f"Reading({self.reader!r}, {self.root!r})"


def build(readings: Reading | Sequence[Reading], path, *, meta: dict | None = None, overwrite: bool = False):
    """Pack the Motions of one or more readings into a store at `path`; write their reports into it.

    Returns (store, reports). The store is built atomically by tenderlib.data.store.build_store (an
    interrupted build leaves no folder that loads as a store); the reports are written after it.
    """
    from tenderlib.data.store import build_store  # the store imports torch-free modules only; keep import local

    readings = [readings] if isinstance(readings, Reading) else list(readings)
    if not readings or not all(isinstance(r, Reading) for r in readings):
        raise ValueError(f"readings must be a Reading or a non-empty list of Readings, got {readings!r}")

    owners: dict[str, str] = {}  # a clip id taken by one reading is a duplicate in the next
    for r in readings:
        r.owners = owners

    def motions() -> Iterator[Motion]:
        for r in readings:
            yield from r

    store = build_store(motions(), path, meta=meta, overwrite=overwrite)
    reports = [r.report for r in readings]
    combined = BuildReport(" + ".join(r.reader for r in reports), " + ".join(r.root for r in reports))
    for r in reports:
        combined.accepted.update(r.accepted)
        combined.rejected.extend(r.rejected)
        combined.notes.extend(r.notes)
        combined.unmatched.extend(r.unmatched)
    combined.complete = all(r.complete for r in reports)
    combined.check().write(store.path)
    if combined.num_motions != len(store):
        raise ValueError(f"store holds {len(store)} clips but the readers accepted {combined.num_motions}")
    return store, reports
