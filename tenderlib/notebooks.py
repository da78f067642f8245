"""Running the notebooks headless with papermill, and keeping the committed ones clean.

    execute_notebook(path, out=None, parameters=None, param_file=None, timeout=...)
        one papermill run; the kernel is `python3` (the interpreter running this code, i.e.
        the project's .venv) started in the notebook's own folder, as nbval does.
    strip_metadata(path)
        removes run noise (papermill metadata and timings, widget state, UI state, interpreter
        patch version), normalises execution counts to 1, 2, ... and the kernelspec to python3;
        keeps outputs, since nbval compares them.
    reproduce(profile, jobs=N)  `make reproduce`: every notebook in order with params/<profile>/,
                            executed copies to outputs/<profile>/notebooks/, independent runs N
                            at a time (tenderlib.parallel), progress on the terminal, a summary
                            of times and tables at the end (times kept in reproduce_times.json).
    refresh()               `make notebooks`: re-execute the committed notebooks in place with
                            their own (smoke) defaults, then strip them.

Command line: `python -m tenderlib.notebooks {run,reproduce,refresh,strip} --help`.
"""
from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Mapping, Sequence

from tenderlib.params import PARAMETERS_TAG, load_param_file
from tenderlib.paths import check_profile, notebooks_dir, output_dir, params_file, relative_to_root, repo_root

log = logging.getLogger("tenderlib.notebooks")  # not "__main__" under python -m

KERNEL_NAME = "python3"  # committed notebooks' kernelspec name; resolves to the running interpreter
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": KERNEL_NAME}
DEFAULT_TIMEOUT = 1800  # seconds per cell (papermill has no limit by default); None: no limit

# Metadata written by papermill, nbclient, JupyterLab extensions or the UI: noise in diffs.
NOTEBOOK_NOISE = ("papermill", "widgets", "toc", "varInspector", "celltoolbar")
CELL_NOISE = ("papermill", "execution", "ExecuteTime", "collapsed", "scrolled")


def _read(path: Path):
    import nbformat

    return nbformat.read(str(path), as_version=4)


def has_parameters_cell(nb) -> bool:
    return any(PARAMETERS_TAG in c.get("metadata", {}).get("tags", []) for c in nb.cells if c.cell_type == "code")


def execute_notebook(
    path: str | Path,
    out: str | Path | None = None,
    parameters: Mapping[str, Any] | None = None,
    param_file: str | Path | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    *,
    strip: bool = True,
) -> Path:
    """Execute one notebook with papermill and return the path of the executed notebook.

    out: where to write it; None executes in place (the original is replaced only on success;
         a failed run is left in a temporary folder, named in the log).
    parameters: injected after the `parameters` cell; they override those from param_file.
    param_file: a YAML mapping of parameters (papermill's -f).
    timeout: seconds per cell (None or 0: no limit).
    strip: apply strip_metadata to the result.
    Raises papermill.PapermillExecutionError (naming the failing cell's error) when a cell fails.
    """
    import papermill

    source = Path(path)
    if source.suffix != ".ipynb":
        raise ValueError(f"path must be a .ipynb notebook, got {str(source)!r}")
    if not source.is_file():
        raise FileNotFoundError(f"notebook {str(source)!r} does not exist")
    if timeout is not None and timeout < 0:
        raise ValueError(f"timeout must be seconds > 0 (or None / 0 for no limit), got {timeout}")
    values = load_param_file(param_file) if param_file is not None else {}
    values.update(parameters or {})
    if values and not has_parameters_cell(_read(source)):
        raise ValueError(f"{source.name} has no cell tagged {PARAMETERS_TAG!r}, so parameters {sorted(values)} cannot be injected")

    in_place = out is None
    target = Path(tempfile.mkdtemp(prefix="tender-nb-")) / source.name if in_place else Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info("executing %s -> %s with %s", relative_to_root(source), relative_to_root(target), values or "its defaults")
    try:
        papermill.execute_notebook(
            str(source),
            str(target),
            parameters=values,
            kernel_name=KERNEL_NAME,
            progress_bar=False,
            cwd=str(source.resolve().parent),  # as nbval: the kernel starts in the notebook's folder
            execution_timeout=timeout or None,
        )
    except Exception:
        log.error("%s failed; the executed notebook is at %s", source.name, target)
        raise
    if strip:
        strip_metadata(target)
    if in_place:
        shutil.move(str(target), str(source))
        target.parent.rmdir()
        return source
    return target


def strip_notebook(nb) -> Any:
    """Strip run noise from a notebook node in place (see module docstring); return it."""
    for key in NOTEBOOK_NOISE:
        nb.metadata.pop(key, None)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    if "language_info" in nb.metadata:
        nb.metadata["language_info"].pop("version", None)  # 3.11.x: differs between machines
    count = 0
    for cell in nb.cells:
        for key in CELL_NOISE:
            cell.metadata.pop(key, None)
        if "tags" in cell.metadata and not cell.metadata["tags"]:
            del cell.metadata["tags"]
        if cell.cell_type != "code":
            continue
        if cell.execution_count is None:
            continue
        count += 1
        cell.execution_count = count
        for output in cell.outputs:
            if output.get("output_type") == "execute_result":
                output["execution_count"] = count
    return nb


def strip_metadata(path: str | Path) -> bool:
    """Strip run noise from the notebook file at `path`; return True if the file changed."""
    import nbformat

    path = Path(path)
    before = path.read_text(encoding="utf-8")
    nb = strip_notebook(nbformat.reads(before, as_version=4))
    after = nbformat.writes(nb) + "\n"
    if after == before:
        return False
    path.write_text(after, encoding="utf-8")
    return True


def notebook_paths(names: Sequence[str | Path] | None = None) -> list[Path]:
    """The given notebooks, or every notebooks/*.ipynb in name order (empty if none)."""
    if names:
        return [Path(n) for n in names]
    folder = notebooks_dir()
    return sorted(folder.glob("*.ipynb")) if folder.is_dir() else []


def parameter_names(nb_path: str | Path) -> list[str]:
    """The names the notebook's `parameters` cell assigns (what -p and params files may set)."""
    import ast

    nb = _read(Path(nb_path))
    cells = [c for c in nb.cells if c.cell_type == "code" and PARAMETERS_TAG in c.get("metadata", {}).get("tags", [])]
    names: list[str] = []
    for cell in cells:
        for node in ast.parse(cell.source).body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
            names += [t.id for t in targets if isinstance(t, ast.Name) and t.id not in names]
    return names


def known_profiles() -> list[str]:
    """'smoke' (the notebooks' own defaults) and every folder under params/."""
    folder = repo_root() / "params"
    return ["smoke", *sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))] \
        if folder.is_dir() else ["smoke"]


def _plan(profile: str, paths: Sequence[Path]) -> list[tuple[Path, Path | None]]:
    """(notebook, params file or None) for each notebook, every params file checked before anything runs."""
    if profile not in known_profiles():
        raise ValueError(f"unknown profile {profile!r}: no folder params/{profile}/; known: {', '.join(known_profiles())}")
    plan = []
    for nb_path in paths:
        if not Path(nb_path).is_file():
            raise FileNotFoundError(f"notebook {str(nb_path)!r} does not exist")
        pfile = params_file(profile, Path(nb_path).stem) if profile != "smoke" else None
        values = load_param_file(pfile) if pfile is not None else {}
        if values.get("profile", profile) != profile:
            raise ValueError(f"{relative_to_root(pfile)} sets profile={values['profile']!r} inside params/{profile}/")
        allowed = parameter_names(nb_path)
        unknown = [k for k in values if k not in allowed]
        if unknown:
            raise ValueError(f"{relative_to_root(pfile)} names unknown parameter(s) {', '.join(map(repr, unknown))} of "
                             f"{Path(nb_path).name}; its parameters: {', '.join(allowed)}")
        plan.append((Path(nb_path), pfile))
    return plan


class _Follower:
    """Prints the lines appended to the progress file (tenderlib.progress) while a notebook runs."""

    def __init__(self, path: Path, start: float):
        import threading

        self.path, self.start, self.label, self.offset = path, start, "", 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _clock(self) -> str:
        import time

        minutes, seconds = divmod(int(time.time() - self.start), 60)
        return f"{minutes // 60:d}:{minutes % 60:02d}:{seconds:02d}"

    def say(self, message: str) -> None:
        print(f"[{self._clock()}] {message}", file=sys.stderr, flush=True)

    def _poll(self) -> None:
        if not self.path.is_file():
            return
        with self.path.open("r", encoding="utf-8") as f:
            f.seek(self.offset)
            chunk = f.read()
        done = chunk.rfind("\n") + 1
        self.offset += len(chunk[:done].encode("utf-8"))
        for line in chunk[:done].splitlines():
            self.say(f"{self.label} | {line.split(chr(9), 2)[-1]}")

    def _run(self) -> None:
        while not self._stop.wait(2.0):
            self._poll()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._poll()


def reproduce(profile: str = "default", names: Sequence[str | Path] | None = None, timeout: float | None = None,
              jobs: int | None = None) -> list[Path]:
    """Execute the notebooks in order for `profile` (see module docstring); return the copies.

    Each gets params/<profile>/<stem>.yaml when it exists, profile=<profile> and jobs=<jobs> (default:
    the CPUs this process may use). Every params file is checked against its notebook's parameters
    before the first notebook starts. Progress lines (runs, steps, ETA) go to the terminal; at the
    end a summary lists each notebook's time and every table written. Runs are cached by config,
    so a killed reproduction started again loads what finished and resumes what was interrupted.
    """
    import json
    import time

    from tenderlib import parallel, progress

    check_profile(profile)
    jobs = parallel.check_jobs(parallel.default_jobs() if jobs is None else jobs)
    paths = notebook_paths(names)
    if not paths:
        log.warning("no notebooks found in %s: nothing to reproduce", relative_to_root(notebooks_dir()))
    plan = _plan(profile, paths)
    out_root = output_dir(profile, "notebooks").parent
    times_file = out_root / "reproduce_times.json"
    last = json.loads(times_file.read_text()) if times_file.is_file() else {}
    progress_file = out_root / "progress.log"
    progress_file.write_text("")
    start = time.time()
    follower = _Follower(progress_file, start)
    previous_env = os.environ.get(progress.ENV)
    os.environ[progress.ENV] = str(progress_file)
    done, seconds = [], {}
    try:
        for k, (nb_path, pfile) in enumerate(plan):
            left = sum(last.get(p.stem, 0) for p, _ in plan[k:])
            follower.label = nb_path.stem
            follower.say(f"notebook {k + 1}/{len(plan)} {nb_path.stem} ({jobs} job(s))"
                         + (f"; the last reproduction took {left / 60:.0f} min from here" if left else ""))
            t0 = time.time()
            out = output_dir(profile, "notebooks") / nb_path.name
            done.append(execute_notebook(nb_path, out, parameters={"profile": profile, "jobs": jobs}, param_file=pfile,
                                         timeout=timeout))
            seconds[nb_path.stem] = time.time() - t0
            follower.say(f"{nb_path.stem} done in {seconds[nb_path.stem] / 60:.1f} min")
            # after every notebook, so that a killed reproduction keeps the times of those that finished
            times_file.write_text(json.dumps({**last, **{k: round(v) for k, v in seconds.items()}}, indent=1) + "\n")
    finally:
        follower.close()
        if previous_env is None:
            os.environ.pop(progress.ENV, None)
        else:
            os.environ[progress.ENV] = previous_env
        tables = sorted(p for p in output_dir(profile, "tables").glob("*.md") if p.stat().st_mtime >= start)
        lines = [f"  {stem:<24} {t / 60:6.1f} min" for stem, t in seconds.items()]
        lines.append(f"  {'total':<24} {(time.time() - start) / 60:6.1f} min ({jobs} job(s); "
                     f"{len(seconds)} of {len(plan)} notebooks)")
        lines += [f"  table {relative_to_root(p)}" for p in tables]
        print("reproduce summary:\n" + "\n".join(lines), file=sys.stderr, flush=True)
    return done


def refresh(names: Sequence[str | Path] | None = None, timeout: float | None = DEFAULT_TIMEOUT) -> list[Path]:
    """Re-execute the committed notebooks in place with their own defaults, then strip them."""
    paths = notebook_paths(names)
    if not paths:
        log.warning("no notebooks found in %s: nothing to refresh", relative_to_root(notebooks_dir()))
    return [execute_notebook(p, None, timeout=timeout) for p in paths]


def _parse_value(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tenderlib.notebooks", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    timeout_help = f"seconds per cell, 0 for no limit (default {DEFAULT_TIMEOUT})"

    run = sub.add_parser("run", help="execute one notebook (in place unless -o)")
    run.add_argument("notebook")
    run.add_argument("-o", "--out", default=None, help="executed copy (default: in place)")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    run.add_argument("-f", "--param-file", default=None, help="YAML file of parameters")
    run.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help=timeout_help)

    rep = sub.add_parser("reproduce", help="execute every notebook with params/<profile>/ into outputs/<profile>/")
    rep.add_argument("--profile", default="default")
    rep.add_argument("--timeout", type=float, default=0, help="seconds per cell, 0 for no limit (default 0: runs "
                     "are cached and resumable, so a long cell is never cut)")
    rep.add_argument("--jobs", type=int, default=None, help="independent runs side by side, one process each "
                     "(default: the CPUs this process may use)")
    rep.add_argument("notebooks", nargs="*", help="default: notebooks/*.ipynb")

    ref = sub.add_parser("refresh", help="re-execute committed notebooks in place with their defaults, then strip")
    ref.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help=timeout_help)
    ref.add_argument("notebooks", nargs="*", help="default: notebooks/*.ipynb")

    st = sub.add_parser("strip", help="strip run metadata from notebooks (outputs kept)")
    st.add_argument("notebooks", nargs="*", help="default: notebooks/*.ipynb")

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "run":
            params = {name: _parse_value(value) for name, value in args.parameter}
            execute_notebook(args.notebook, args.out, params, args.param_file, args.timeout)
        elif args.command == "reproduce":
            reproduce(args.profile, args.notebooks, args.timeout, args.jobs)
        elif args.command == "refresh":
            refresh(args.notebooks, args.timeout)
        else:
            for path in notebook_paths(args.notebooks):
                log.info("%s %s", "stripped" if strip_metadata(path) else "clean", relative_to_root(path))
    except Exception as e:  # one line for the user; papermill's message names the failing cell
        log.error("%s: %s", type(e).__name__, e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
