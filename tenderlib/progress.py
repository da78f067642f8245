"""Progress lines for a long headless run, outside the notebooks' outputs.

    progress.report("train tender-1a2b: step 500/2000, 3.1 steps/s, ETA 8 min")

A notebook run by `make reproduce` cannot print its progress into its own cells (the stored
outputs must not change with timings), so the library appends one line per event to the file
named by the environment variable TENDER_PROGRESS, which `python -m tenderlib.notebooks
reproduce` sets and follows on the terminal. Worker processes (tenderlib.parallel) inherit the
variable, so their runs report too. Without the variable, report() does nothing.
"""
from __future__ import annotations

import os
import time

ENV = "TENDER_PROGRESS"


def report(message: str) -> None:
    """Append `<unix time>\\t<pid>\\t<message>` to $TENDER_PROGRESS (one write: lines never interleave)."""
    path = os.environ.get(ENV)
    if not path:
        return
    line = f"{time.time():.1f}\t{os.getpid()}\t{message.replace(chr(10), ' ')}\n"
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(line)
    except OSError:
        pass  # progress is best effort: never fail a run for it


def eta(done: int, total: int, seconds: float) -> str:
    """'ETA 3 min' from `done` of `total` units in `seconds` ('' before the first unit)."""
    if done <= 0 or total <= done:
        return ""
    left = seconds / done * (total - done)
    return f"ETA {left / 60:.0f} min" if left >= 90 else f"ETA {left:.0f} s"
