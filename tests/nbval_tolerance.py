"""Numbers that come out of trained models, compared by nbval within a tolerance the cell states.

Trained weights depend on the CPU's kernels (AVX2 and AVX-512 sum in different orders) and on
the thread count, so a metric printed by a notebook moves in its last digits from one machine to
the next. A cell whose first lines hold

    # NBVAL_TOLERANCE 0.05  (why, in words)

has its text outputs (streams, text/plain, text/html) compared like this instead of verbatim:
both are cut into numbers and the text between them; the text must be equal (runs of spaces
count as one space, since columns widen or narrow with a digit), integers must be equal, and
each decimal number of the fresh output must lie within `tol * max(1, |stored|)` of the stored
one: absolute below 1, relative above. So a metric that moves further, a table that loses a row
or a column, a changed word or count still fails. Images (image/png, image/jpeg and image/gif)
are never compared: their bytes follow every decimal of the motions they draw.
"""
from __future__ import annotations

import copy
import re

DIRECTIVE = re.compile(r"^[ \t]*#[ \t]*NBVAL_TOLERANCE[ \t]+(\S+)(?:[ \t].*)?$", re.MULTILINE)  # a comment may follow
NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w])")
TEXT_KEYS = ("text/plain", "text/html", "text/markdown", "text/latex")
SKIPPED_IMAGES = ("image/png", "image/jpeg", "image/gif")


def cell_tolerance(source: str) -> float | None:
    """The tolerance a cell states (`# NBVAL_TOLERANCE x`), or None. A malformed one raises."""
    found = DIRECTIVE.findall(source)
    if not found:
        return None
    if len(found) > 1:
        raise ValueError(f"a cell states NBVAL_TOLERANCE {len(found)} times")
    try:
        tol = float(found[0])
    except ValueError:
        raise ValueError(f"NBVAL_TOLERANCE must be a number, got {found[0]!r}") from None
    if not 0 < tol < 1:
        raise ValueError(f"NBVAL_TOLERANCE must be in (0, 1), got {tol}")
    return tol


def _split(text: str) -> tuple[list[str], list[str]]:
    """(texts between numbers with space runs collapsed, numbers as written)."""
    numbers = NUMBER.findall(text)
    between = [re.sub(r"\s+", " ", part) for part in NUMBER.split(text)]
    return between, numbers


def _is_integer(token: str) -> bool:
    return re.fullmatch(r"[-+]?\d+", token) is not None


def agree(stored: str, fresh: str, tol: float) -> bool:
    """True when `fresh` equals `stored` up to decimals within tol (module docstring)."""
    if stored == fresh:
        return True
    text_a, nums_a = _split(stored)
    text_b, nums_b = _split(fresh)
    if text_a != text_b or len(nums_a) != len(nums_b):
        return False
    for a, b in zip(nums_a, nums_b):
        if _is_integer(a) or _is_integer(b):
            if a != b:
                return False
        elif abs(float(a) - float(b)) > tol * max(1.0, abs(float(a))) + 1e-12:
            return False
    return True


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else value


def _kind(output) -> tuple:
    return (output.get("output_type"), output.get("name"))  # streams by name: stdout, stderr


def reconcile(fresh: list[dict], stored: list[dict], tol: float, sanitize=lambda s: s) -> list[dict]:
    """A copy of the fresh outputs in which every text that agrees (after `sanitize`) with its stored
    counterpart is replaced by the stored text, so that nbval's exact comparison passes there and
    fails everywhere else. Outputs of one kind (a stream, display data, a result) pair in order."""
    out = copy.deepcopy(fresh)
    for kind in dict.fromkeys(_kind(o) for o in out):
        for new, old in zip([o for o in out if _kind(o) == kind], [o for o in stored if _kind(o) == kind]):
            if "text" in new and "text" in old:
                if agree(sanitize(_text(old["text"])), sanitize(_text(new["text"])), tol):
                    new["text"] = old["text"]
            for key in TEXT_KEYS:
                if key in new.get("data", {}) and key in old.get("data", {}):
                    if agree(sanitize(_text(old["data"][key])), sanitize(_text(new["data"][key])), tol):
                        new["data"][key] = old["data"][key]
    return out


def install(nbval_plugin) -> None:
    """Teach nbval (the module nbval.plugin) to skip images and to honour NBVAL_TOLERANCE."""
    file_cls, item_cls = nbval_plugin.IPyNbFile, nbval_plugin.IPyNbCell
    if getattr(item_cls, "_tender_tolerance", False):
        return
    init, compare = file_cls.__init__, item_cls.compare_outputs

    def file_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.skip_compare = tuple(self.skip_compare) + tuple(k for k in SKIPPED_IMAGES if k not in self.skip_compare)

    def compare_outputs(self, test, ref, skip_compare=None):
        tol = cell_tolerance(_text(self.cell.source))
        if tol is not None:
            test = reconcile(test, ref, tol, self.sanitize)
        return compare(self, test, ref, skip_compare)

    file_cls.__init__ = file_init
    item_cls.compare_outputs = compare_outputs
    item_cls._tender_tolerance = True
