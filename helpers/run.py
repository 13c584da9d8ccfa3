"""The main job: execute the numbered notebooks in order with papermill into a run folder.

    python -m helpers.run                          # offline default, all notebooks
    python -m helpers.run --name bbc -p sample_size 500 -p label_method reference
    python -m helpers.run --config my_run.yaml     # parameters from a YAML mapping
    python -m helpers.run --exercises              # also run the exercises' solutions

Each notebook receives the parameters its ``parameters`` cell declares (plus
``run_dir``); a name no notebook declares is an error with the closest valid one.
Executed copies, results and ``run_log.json`` (seconds per notebook) land in
``runs/<name>/``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Optional

import yaml

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
# What each notebook writes into the run folder (besides its executed copy), in the order the runner lists them.
PRODUCES = {
    "03_topic_modeling": ("topics.csv", "labels.csv", "documents.parquet", "settings.json", "topic_model"),
    "04_visualization": ("documents.html", "topic_map.png", "datamap.png", "barchart.html", "hierarchy.html"),
    "05_evaluation": ("evaluation.json", "evaluation.png", "comparison.json", "comparison.png"),
    "06_refining_topics": ("labels_to_edit.csv", "hierarchy_llm.html", "topics_per_class.html", "refined"),
}


def notebook_paths(folder: Path = NOTEBOOKS, only: Optional[list[str]] = None) -> list[Path]:
    """The numbered notebooks in order, or those whose number/name starts with one of ``only``."""
    paths = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if only:
        paths = [p for p in paths if any(p.stem.startswith(o) for o in only)]
        if not paths:
            raise SystemExit(f"No notebook in {folder} matches {', '.join(only)}.")
    return paths


def declared_parameters(path: Path) -> dict[str, Any]:
    """The names (and default values, as source text) of a notebook's ``parameters`` cell."""
    import papermill

    return {name: p["default"] for name, p in papermill.inspect_notebook(str(path)).items()}


def parse_value(text: str) -> Any:
    """A ``-p`` value as YAML reads it: ``300`` -> 300, ``none``/``null`` stay strings/None."""
    return yaml.safe_load(text)


PATH_PARAMETERS = ("compare_with", "cache_dir")  # always paths
# a path when it names a file (helpers.data.is_file_source), else a Hub id or "packaged:..."
FILE_PARAMETERS = ("dataset",)


def absolute_paths(parameters: dict[str, Any], cwd: Path) -> dict[str, Any]:
    """Path parameters made absolute against ``cwd`` (where the command was typed).

    The notebooks run inside ``notebooks/``; without this, ``-p compare_with runs/a``
    would be read from there.
    """
    from .data import is_file_source

    out = dict(parameters)
    for name, value in parameters.items():
        if not isinstance(value, str) or Path(value).expanduser().is_absolute():
            continue
        if name in PATH_PARAMETERS or (name in FILE_PARAMETERS and is_file_source(str(cwd / value))):
            out[name] = str((cwd / value).resolve())
    return out


def check_names(parameters: dict[str, Any], declared: dict[Path, dict[str, Any]]) -> None:
    """Raise ``SystemExit`` naming the closest valid parameter for any unknown name."""
    from .settings import closest_hint

    valid = sorted({name for names in declared.values() for name in names})
    for name in parameters:
        if name not in valid:
            raise SystemExit(f"Unknown parameter {name!r}. Valid parameters: {', '.join(valid)}.{closest_hint(name, valid)}")


def outdated_results(run_dir: Path, paths: list[Path]) -> list[Path]:
    """What an overwrite must remove before re-running ``paths`` in ``run_dir``.

    The executed copies and results of every notebook from the first one re-run on: the later
    ones were made from the results being replaced (a ``documents.html`` drawn from the old
    topics must not sit next to the new ones). Results of earlier notebooks stay: they are the
    input of the re-run (``--notebooks 05`` re-evaluates the existing topics).
    """
    first = min(p.stem for p in paths)
    later = [p for p in notebook_paths() if p.stem >= first]
    names = [p.name for p in later] + [n for p in later for n in PRODUCES.get(p.stem, ())]
    return [run_dir / n for n in names if (run_dir / n).exists()]


def prepare_run_dir(runs: Path, name: str, overwrite: bool, paths: list[Path]) -> Path:
    """Create ``runs/name``; refuse to reuse a non-empty one unless ``overwrite``, which removes the
    results the re-run will replace or make stale (:func:`outdated_results`) and says so."""
    import shutil

    run_dir = (runs / name).resolve()
    if run_dir.exists() and any(run_dir.iterdir()):
        if not overwrite:
            raise SystemExit(
                f"Run folder {run_dir} already exists. Pick another --name, or pass --overwrite to replace its results."
            )
        removed = outdated_results(run_dir, paths)
        for path in removed:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        if removed:
            print(f"[run] --overwrite: removed {', '.join(p.name for p in removed)} from {run_dir}", flush=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def written_since(run_dir: Path, start: float) -> list[Path]:
    """The results (``PRODUCES``) in ``run_dir`` written at or after ``start`` (a ``time.time()``)."""
    names = [n for products in PRODUCES.values() for n in products]
    return [run_dir / n for n in names if (run_dir / n).exists() and (run_dir / n).stat().st_mtime >= start - 1]


def without_solutions(path: Path, folder: Path) -> Path:
    """A copy of notebook ``path`` in ``folder`` whose exercise solutions (cells tagged ``solution``) are raw
    cells: shown in the executed copy, not run. A headless run makes results; the exercises are for readers."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and "solution" in cell.metadata.get("tags", []):
            nb.cells[i] = nbformat.v4.new_raw_cell(cell.source, metadata=cell.metadata)
    out = folder / path.name
    nbformat.write(nb, out)
    return out


RESET = ("get_ipython().run_line_magic('reset', '-f')\n"
         "__import__('sys').modules.get('matplotlib.pyplot') and __import__('matplotlib.pyplot').pyplot.close('all')\n"
         "__import__('gc').collect()")


def start_kernel(cwd: Path):
    """One Python kernel for the whole run (``--fresh-kernels`` starts one per notebook instead)."""
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(cwd))
    return km


def reset_namespace(km) -> None:
    """Empty the shared kernel's namespace and free what it held, before the next notebook: each notebook
    starts with no variable of the one before (its imports stay loaded, which is the point)."""
    client = km.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        reply = client.execute_interactive(RESET, store_history=False, timeout=300, output_hook=lambda msg: None)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"Resetting the shared kernel failed: {reply['content'].get('evalue')}")
    finally:
        client.stop_channels()


def execute(paths: list[Path], parameters: dict[str, Any], run_dir: Path, log_output: bool = False,
            exercises: bool = False, fresh_kernels: bool = False) -> list[dict]:
    """Run each notebook with papermill into ``run_dir``; stop at the first failure.

    The notebooks share one kernel, its namespace emptied between them (:func:`reset_namespace`):
    the libraries are imported once per run, not once per notebook. ``fresh_kernels`` starts a kernel
    per notebook, as opening each in Jupyter does. Exercise solutions run only with ``exercises``.
    Returns one ``{"notebook", "seconds"}`` record per notebook, also written to ``run_dir/run_log.json``.
    """
    import tempfile

    import papermill

    log = []
    km = None if fresh_kernels else start_kernel(paths[0].parent)
    with tempfile.TemporaryDirectory() as scratch:
        try:
            for path in paths:
                declared = declared_parameters(path)
                given = {k: v for k, v in {**parameters, "run_dir": str(run_dir)}.items() if k in declared}
                output = run_dir / path.name
                print(f"[run] {path.name} ...", flush=True)
                start = time.perf_counter()
                if km is not None and log:
                    reset_namespace(km)
                source = path if exercises else without_solutions(path, Path(scratch))
                try:
                    papermill.execute_notebook(
                        str(source), str(output), parameters=given, cwd=str(path.parent), kernel_name="python3",
                        progress_bar=False, log_output=log_output, **({"km": km} if km is not None else {}),
                    )
                except papermill.PapermillExecutionError as error:
                    raise SystemExit(
                        f"{path.name} failed: {error.ename}: {error.evalue}\nThe executed copy with the error is {output}"
                    ) from None
                log.append({"notebook": path.name, "seconds": round(time.perf_counter() - start, 1)})
                print(f"[run] {path.name} done in {log[-1]['seconds']} s", flush=True)
                (run_dir / "run_log.json").write_text(json.dumps(log, indent=2))
        finally:
            if km is not None:
                km.shutdown_kernel(now=True)
    return log


def main(argv: Optional[list[str]] = None) -> Path:
    """Command-line entry point; returns the run folder."""
    parser = argparse.ArgumentParser(prog="python -m helpers.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", help="run folder name under --runs (default: <profile>-<date>-<time>)")
    parser.add_argument("--runs", default=str(REPO / "runs"), help="parent folder of run folders (default: runs/)")
    parser.add_argument("--config", help="YAML file with a mapping of parameter names to values")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="a notebook parameter, e.g. -p sample_size 500 (repeatable; wins over --config)")
    parser.add_argument("--notebooks", nargs="*", help="only these notebooks, by number or name prefix (e.g. 03 04)")
    parser.add_argument("--overwrite", action="store_true", help="replace the results of an existing run folder")
    parser.add_argument("--log-output", action="store_true", help="stream the notebooks' outputs to the terminal")
    parser.add_argument("--exercises", action="store_true", help="also run the exercises' solutions (tests do)")
    parser.add_argument("--fresh-kernels", action="store_true",
                        help="one kernel per notebook, as Jupyter opens them (default: one for the run, reset between)")
    args = parser.parse_args(argv)

    parameters: dict[str, Any] = {}
    if args.config:
        loaded = yaml.safe_load(Path(args.config).read_text()) or {}
        if not isinstance(loaded, dict):
            raise SystemExit(f"{args.config} must hold a mapping of parameter names to values.")
        parameters.update(loaded)
    parameters.update({name: parse_value(value) for name, value in args.parameter})
    parameters = absolute_paths(parameters, Path.cwd())
    paths = notebook_paths(only=args.notebooks)
    check_names(parameters, {p: declared_parameters(p) for p in paths})
    name = args.name or f"{parameters.get('profile', 'offline')}-{datetime.now():%Y%m%d-%H%M%S}"
    run_dir = prepare_run_dir(Path(args.runs), name, args.overwrite, paths)
    start, started_at = time.perf_counter(), time.time()
    execute(paths, parameters, run_dir, args.log_output, args.exercises, args.fresh_kernels)
    print(f"\nDone in {time.perf_counter() - start:.0f} s. Results in {run_dir}:")
    for artifact in written_since(run_dir, started_at):
        print(f"  {artifact}")
    print(f"  executed notebooks: {', '.join(p.name for p in paths)}")
    return run_dir


if __name__ == "__main__":
    main(sys.argv[1:])
