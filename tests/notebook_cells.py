"""Run notebooks' code cells in one plain Python process, with parameters injected after the cell
tagged `parameters` as papermill injects them, each case stopping at its first error.

tests/test_notebooks.py checks with it that a notebook given a bad parameter stops with a clear
error: one process (an IPython shell, so the cells run as in a kernel) runs every case of the
test module, where a Jupyter kernel per case cost about 10 s each. One case still goes through
papermill and a kernel, so that path stays covered.

    python tests/notebook_cells.py CASES.json   # [[notebook path, {parameters}], ...]
    -> prints a JSON list: per case, "ErrorType: message" of the first failing cell, or null
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def run_until_error(shell, path: Path, parameters: dict) -> str | None:
    """Execute the code cells of notebook `path` in `shell` (a fresh namespace), `parameters`
    assigned right after the cell tagged "parameters"; "ErrorType: message" of the first cell that
    raises, None when every cell ran."""
    import nbformat

    shell.reset(new_session=False)
    injected = "\n".join(f"{name} = {value!r}" for name, value in parameters.items())
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        sources = [cell.source] + ([injected] if "parameters" in cell.metadata.get("tags", []) else [])
        for source in sources:
            result = shell.run_cell(source, silent=True)
            error = result.error_before_exec or result.error_in_exec
            if error is not None:
                return f"{type(error).__name__}: {error}"
    return None


def main(cases_file: str) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    cases = json.loads(Path(cases_file).read_text())
    shell = InteractiveShell.instance()
    said = []
    for path, parameters in cases:
        os.chdir(Path(path).resolve().parent)  # as papermill and nbval: the notebook's folder
        said.append(run_until_error(shell, Path(path).resolve(), parameters))
    sys.stdout.write("\n" + json.dumps(said) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
