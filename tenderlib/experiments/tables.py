"""Result tables as CSV and Markdown, with the paper's numbers beside ours (docs/design.md, section 4).

    write_table(rows, "table5_pavae", run.profile, paper=paper.table5(), on="method",
                caption="PA-VAE configurations on D2", float_format={"fid": ".3f"})

writes outputs/<profile>/tables/table5_pavae.csv and .md. With `paper`, both files carry the
paper's rows and ours, told apart by a column `origin` ("paper" / "ours"); with `on` (the
column(s) naming a row, e.g. the method), each paper row is followed by our row(s) of the same
key, so the two stand side by side. Output is deterministic: every cell is formatted to text
once (fixed float format, no locale, "\\n" line ends), and the same text goes to both files.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import logging
import math
import numbers
import re
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from tenderlib.paths import output_dir, relative_to_root

log = logging.getLogger(__name__)

ORIGIN = "origin"  # the column telling the paper's rows from ours
PAPER, OURS = "paper", "ours"
DEFAULT_FLOAT_FORMAT = ".4f"  # format spec for floats; the paper reports 4 decimals
_NAME = re.compile(r"[A-Za-z0-9_.-]+")

Rows = pd.DataFrame | Iterable[Mapping[str, Any]] | Iterable[Any]  # rows: mappings or dataclasses


@dataclasses.dataclass(frozen=True)
class TablePaths:
    """Where write_table put a table. Shown relative to the repository root."""

    csv: Path
    markdown: Path

    def __repr__(self) -> str:
        return f"TablePaths(csv={relative_to_root(self.csv)!r}, markdown={relative_to_root(self.markdown)!r})"


def to_frame(rows: Rows) -> pd.DataFrame:
    """A DataFrame from a DataFrame, or from rows given as mappings or dataclass instances."""
    if isinstance(rows, pd.DataFrame):
        return rows.reset_index(drop=True)
    records = []
    for i, row in enumerate(rows):
        if dataclasses.is_dataclass(row) and not isinstance(row, type):
            records.append(dataclasses.asdict(row))
        elif isinstance(row, Mapping):
            records.append(dict(row))
        else:
            raise ValueError(f"rows must be a DataFrame or mappings/dataclasses; row {i} is {type(row).__name__}")
    return pd.DataFrame.from_records(records) if records else pd.DataFrame()


def _format_cell(value: Any, spec: str) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, bool):  # before Integral: bool is an int
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        value = float(value)
        if math.isnan(value):
            return ""
        text = format(value, spec)
        return "0" + text[2:] if text.startswith("-0") and float(text) == 0 else text  # no "-0.0000"
    if hasattr(value, "item") and callable(value.item):  # numpy bool_ and 0-d arrays
        return _format_cell(value.item(), spec)
    return str(value)


def format_frame(df: pd.DataFrame, float_format: str | Mapping[str, str] = DEFAULT_FLOAT_FORMAT) -> list[list[str]]:
    """Every cell of `df` as text, row by row. float_format: one format spec for all float
    columns, or a mapping column -> spec (columns not named use DEFAULT_FLOAT_FORMAT)."""
    if isinstance(float_format, str):
        specs = {c: float_format for c in df.columns}
    elif isinstance(float_format, Mapping):
        unknown = sorted(set(float_format) - set(map(str, df.columns)))
        if unknown:
            raise ValueError(f"float_format names unknown column(s) {unknown}; columns: {list(df.columns)}")
        specs = {c: float_format.get(str(c), DEFAULT_FLOAT_FORMAT) for c in df.columns}
    else:
        raise ValueError(f"float_format must be a format spec like '.4f' or a mapping column -> spec, got {float_format!r}")
    for spec in set(specs.values()):
        try:
            format(1.5, spec)
        except ValueError:
            raise ValueError(f"float_format {spec!r} is not a valid format spec (e.g. '.4f', '.2e')") from None
    columns = list(df.columns)
    return [[_format_cell(v, specs[c]) for c, v in zip(columns, row)] for row in df.itertuples(index=False, name=None)]


def merge_with_paper(ours: pd.DataFrame, paper: pd.DataFrame, on: str | Sequence[str] | None = None) -> pd.DataFrame:
    """Paper rows and our rows in one frame with an `origin` column.

    on=None: the paper's rows, then ours. on=column(s): rows grouped by key, in order of first
    appearance (paper first), each key's paper row(s) before ours; `origin` follows the keys.
    Columns: ours in order, then any the paper has and we lack.
    """
    for frame, who in ((ours, "ours"), (paper, "paper")):
        if ORIGIN in frame.columns:
            raise ValueError(f"the {who} table already has a column {ORIGIN!r}; rename it")
    keys = [on] if isinstance(on, str) else list(on or [])
    for key in keys:
        if key not in ours.columns or key not in paper.columns:
            raise ValueError(f"on={key!r} must be a column of both tables; ours: {list(ours.columns)}, paper: {list(paper.columns)}")
    columns = list(ours.columns) + [c for c in paper.columns if c not in ours.columns]
    # object columns before concat: an int column with a missing cell stays int, not float
    both = pd.concat(
        [paper.astype(object).assign(**{ORIGIN: PAPER}), ours.astype(object).assign(**{ORIGIN: OURS})],
        ignore_index=True,
        sort=False,
    )
    both = both.where(both.notna(), None)
    if keys:
        key_tuples = list(zip(*(both[k] for k in keys)))
        first_seen = {k: i for i, k in reversed(list(enumerate(key_tuples)))}
        both["_group"] = [first_seen[k] for k in key_tuples]
        both["_paper_first"] = (both[ORIGIN] != PAPER).astype(int)
        both = both.sort_values(["_group", "_paper_first"], kind="stable").drop(columns=["_group", "_paper_first"])
        order = keys + [ORIGIN] + [c for c in columns if c not in keys]
    else:
        order = [ORIGIN] + columns
    return both[order].reset_index(drop=True)


def _markdown(header: list[str], body: list[list[str]], numeric: list[bool], caption: str) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [f"Table: {caption}", ""]
    lines.append("| " + " | ".join(cell(h) for h in header) + " |")
    lines.append("|" + "|".join("---:" if n else ":---" for n in numeric) + "|")
    lines += ["| " + " | ".join(cell(t) for t in row) + " |" for row in body]
    return "\n".join(lines) + "\n"


def _is_numeric(series: pd.Series) -> bool:
    values = [v for v in series if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return bool(values) and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values)


def write_table(
    rows: Rows,
    name: str,
    profile: str,
    *,
    paper: Rows | None = None,
    on: str | Sequence[str] | None = None,
    caption: str | None = None,
    float_format: str | Mapping[str, str] = DEFAULT_FLOAT_FORMAT,
) -> TablePaths:
    """Write outputs/<profile>/tables/<name>.csv and <name>.md; return their paths.

    rows: our results (DataFrame, or mappings/dataclasses one per row).
    paper: the paper's numbers for the same table (same forms), shown beside ours with an
           `origin` column; on: key column(s) pairing paper rows with ours (see merge_with_paper).
    caption: the Markdown caption line (default: the name).
    float_format: format spec for floats ('.4f'), or a mapping column -> spec.
    """
    if not isinstance(name, str) or _NAME.fullmatch(name) is None:
        raise ValueError(f"name must be a file stem of characters [A-Za-z0-9_.-], got {name!r}")
    ours = to_frame(rows)
    if ours.columns.empty:
        raise ValueError(f"table {name!r} has no columns (rows is empty)")
    if on is not None and paper is None:
        raise ValueError("on= pairs rows with the paper's; it needs paper=")
    df = ours if paper is None else merge_with_paper(ours, to_frame(paper), on)
    header = [str(c) for c in df.columns]
    body = format_frame(df, float_format)
    numeric = [_is_numeric(df[c]) for c in df.columns]

    folder = output_dir(profile, "tables")
    csv_path, md_path = folder / f"{name}.csv", folder / f"{name}.md"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(body)
    csv_path.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    md_path.write_text(_markdown(header, body, numeric, caption or name), encoding="utf-8", newline="")
    paths = TablePaths(csv=csv_path, markdown=md_path)
    log.info("wrote table %s (%d rows): %r", name, len(body), paths)
    return paths


def read_table(name: str, profile: str) -> pd.DataFrame:
    """Read back outputs/<profile>/tables/<name>.csv (missing cells are NaN)."""
    path = output_dir(profile, "tables") / f"{name}.csv"
    if not path.is_file():
        raise FileNotFoundError(f"no table {name!r} for profile {profile!r}: {relative_to_root(path)} does not exist")
    return pd.read_csv(path)
