"""The main job: execute the numbered notebooks in order with papermill into a run folder.

    python tools/run.py                          # offline default, all notebooks
    python tools/run.py --name bbc -p sample_size 500 -p label_method reference
    python tools/run.py --config my_run.yaml     # parameters from a YAML mapping
    python tools/run.py --exercises              # also run the exercises' solutions

Each notebook receives the parameters its ``parameters`` cell declares (plus
``run_dir``); a name no notebook declares is an error with the closest valid one.
Executed copies, results and ``run_log.json`` (seconds per notebook) land in
``runs/<name>/``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Optional

import yaml

RUNNER = Path(__file__).resolve()  # this file: `python <RUNNER>` runs the series from any folder
REPO = RUNNER.parent.parent
if __package__ in (None, ""):  # `python tools/run.py`: the repository root on the path, so `tools.overwrite` imports
    sys.path.insert(0, str(REPO))
NOTEBOOKS = REPO / "notebooks"
# What each notebook writes into the run folder (besides its executed copy), in the order the runner lists them.
PRODUCES = {
    "02_prompt_engineering": ("prompt.json",),
    "03_topic_modeling": ("topics.csv", "labels.csv", "labels_prompt.json", "documents.parquet", "settings.json", "topic_model"),
    "04_visualization": ("documents.html", "topic_map.png", "datamap.png", "barchart.html", "hierarchy.html"),
    "05_evaluation": ("evaluation.json", "evaluation.png", "comparison.json", "comparison.png"),
    "06_refining_topics": ("hierarchy_llm.html", "topics_per_class.html", "refined"),
}
# What you were told to edit in a run folder: never replaced, moved or deleted by a re-run (06 writes it only
# when it is missing, and reads your edits from it).
YOURS = ("labels_to_edit.csv",)


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


# The one list of parameters that are always paths (a file or folder), read from where the command was typed.
PATH_PARAMETERS = ("compare_with", "cache_dir", "edited_labels")
# a path when it names a file (helpers.data.is_file_source), else a Hub id or "packaged:..."
FILE_PARAMETERS = ("dataset",)


def absolute_paths(parameters: dict[str, Any], cwd: Path) -> dict[str, Any]:
    """Path parameters made absolute against ``cwd`` (where the command was typed).

    The notebooks run inside ``notebooks/``; without this, ``-p compare_with runs/a``
    would be read from there.
    """
    from helpers.data import is_file_source

    out = dict(parameters)
    for name, value in parameters.items():
        if not isinstance(value, str) or Path(value).expanduser().is_absolute():
            continue
        if name in PATH_PARAMETERS or (name in FILE_PARAMETERS and is_file_source(str(cwd / value))):
            out[name] = str((cwd / value).resolve())
    return out


def check_names(parameters: dict[str, Any], declared: dict[Path, dict[str, Any]]) -> None:
    """Raise ``SystemExit`` naming the closest valid parameter for any unknown name."""
    from helpers.settings import closest_hint

    valid = sorted({name for names in declared.values() for name in names})
    if any("more_settings" in names for names in declared.values()):  # knobs outside the parameters cells
        from helpers.settings import knob_names

        valid = sorted(set(valid) | set(knob_names()))
    for name in parameters:
        if name not in valid:
            raise SystemExit(f"Unknown parameter {name!r}. Valid parameters: {', '.join(valid)}.{closest_hint(name, valid)}")


def notebook_parameters(declared: dict[str, Any], parameters: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """What one notebook receives: the parameters its ``parameters`` cell declares, and ``run_dir``; the other
    knobs of :class:`helpers.settings.Settings` go into its ``more_settings`` dict, which its setup line resolves."""
    from helpers.settings import knob_names

    given = {k: v for k, v in {**parameters, "run_dir": str(run_dir)}.items() if k in declared}
    if "more_settings" in declared:
        more = {**dict(parameters.get("more_settings") or {}),
                **{k: v for k, v in parameters.items() if k not in declared and k in knob_names()}}
        if more:
            given["more_settings"] = more
    return given


# Which notebooks read which notebook's results (``load_results``): re-running a notebook makes the results of
# those that read it stale. 04-07 each read 03's topics and nothing of one another (06 reuses 05's
# evaluation.json only when it was computed the same way from the same topics); 00-02 write no results.
READS_FROM = {name: ("03_topic_modeling",) for name in ("04_visualization", "05_evaluation", "06_refining_topics",
                                                         "07_going_big")}
RUN_LOG = "run_log.json"


def stale_notebooks(rerun: list[str]) -> list[str]:
    """The notebooks (stems) whose results a re-run of ``rerun`` replaces or makes stale: those, and every
    notebook that reads their results (:data:`READS_FROM`), transitively."""
    stale = set(rerun)
    while True:
        more = {reader for reader, sources in READS_FROM.items() if stale & set(sources)} - stale
        if not more:
            return sorted(stale)
        stale |= more


def outdated_results(run_dir: Path, paths: list[Path]) -> list[Path]:
    """What an overwrite must replace before re-running ``paths`` in ``run_dir``: the executed copies and
    results of the notebooks re-run and of those that read their results (:func:`stale_notebooks`: a
    ``documents.html`` drawn from old topics must not sit next to new ones), and the run log. Everything
    else stays (``--notebooks 04`` keeps 05's evaluation and 06's ``refined/``; ``--notebooks 05``
    re-evaluates the existing topics)."""
    return [run_dir / n for n in replaced_names(paths) if (run_dir / n).exists()]


def replaced_names(paths: list[Path]) -> list[str]:
    """The names in a run folder that a re-run of ``paths`` writes or makes stale (see :func:`outdated_results`)."""
    stems = stale_notebooks([p.stem for p in paths])
    return [f"{s}.ipynb" for s in stems] + [n for s in stems for n in PRODUCES.get(s, ())] + [RUN_LOG]


def run_folder(runs: Path, name: str) -> Path:
    """``runs/name``, refused with one sentence unless ``name`` is one plain folder name inside ``runs``
    (no path, no ``..``, not hidden): ``--overwrite`` must never reach results outside ``--runs``."""
    runs = Path(runs).resolve()
    plain = name and name == Path(name).name and not name.startswith(".") and "\\" not in name
    if not plain or (runs / name).resolve().parent != runs:
        raise SystemExit(f"--name must be one folder name inside --runs ({runs}), e.g. bbc-500, not a path: "
                         f"to write elsewhere, pass --runs <parent folder> --name <folder>.")
    return runs / name


def prepare_run_dir(runs: Path, name: str, overwrite: bool, paths: list[Path]) -> Path:
    """Create ``runs/name`` (:func:`run_folder`); refuse to reuse a non-empty one unless ``overwrite``
    (then the re-run runs beside it: :func:`run_replacing`; :func:`tools.overwrite.recover` first puts back
    what a swap killed half-way left)."""
    from tools.overwrite import recover

    run_dir = run_folder(runs, name)
    recover(run_dir)
    if run_dir.exists() and any(run_dir.iterdir()) and not overwrite:
        raise SystemExit(
            f"Run folder {run_dir} already exists. Pick another --name, or pass --overwrite to replace its results."
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def staging_folder(run_dir: Path, paths: list[Path]) -> Path:
    """A hidden sibling of ``run_dir`` holding a copy of everything the re-run of ``paths`` neither writes nor
    makes stale (:func:`replaced_names`; your files, :data:`YOURS`, always): the re-run writes there and
    ``run_dir`` is untouched until :func:`tools.overwrite.swap_in`, so a kill at any point leaves the earlier
    results where they were."""
    from tools.overwrite import sibling_copy

    return sibling_copy(run_dir, set(replaced_names(paths)) - set(YOURS))


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
         "__import__('helpers.machine').machine.free_memory()  # gc, and the GPU memory torch still reserves")


def start_kernel(cwd: Path, sockets: Path):
    """A Python kernel for the run (``--fresh-kernels``: one per notebook), reached over local IPC sockets
    under ``sockets`` rather than TCP ports: nothing listens on the network, and ipykernel has nothing to warn of.
    Its progress bars are off (``TQDM_DISABLE``): a log or an executed edition holds no bar drawn as text;
    in Jupyter and Colab they show, as widgets."""
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name="python3", transport="ipc", ip=str(sockets / f"kernel-{os.getpid()}"))
    quiet = {"TQDM_DISABLE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}  # tqdm's, and those of transformers and the Hub
    km.start_kernel(cwd=str(cwd), env={**os.environ, **quiet})
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


class NotebookFailed(SystemExit):
    """A notebook of the run raised: what it raised (``summary``) and its executed copy (``output``)."""

    def __init__(self, summary: str, output: Path):
        super().__init__(f"{summary}\nThe executed copy with the error is {output}")
        self.summary, self.output = summary, output


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
    with tempfile.TemporaryDirectory() as scratch:
        km = start_kernel(paths[0].parent, Path(scratch))
        try:
            for path in paths:
                declared = declared_parameters(path)
                given = notebook_parameters(declared, parameters, run_dir)
                output = run_dir / path.name
                print(f"[run] {path.name} ...", flush=True)
                start = time.perf_counter()
                if log and fresh_kernels:
                    km.shutdown_kernel(now=True)
                    km = start_kernel(path.parent, Path(scratch))
                elif log:
                    reset_namespace(km)
                source = path if exercises else without_solutions(path, Path(scratch))
                try:
                    papermill.execute_notebook(
                        str(source), str(output), parameters=given, cwd=str(path.parent), kernel_name="python3",
                        progress_bar=False, log_output=log_output, km=km,
                    )
                except papermill.PapermillExecutionError as error:
                    raise NotebookFailed(f"{path.name} failed: {error.ename}: {error.evalue}", output) from None
                log.append({"notebook": path.name, "seconds": round(time.perf_counter() - start, 1)})
                print(f"[run] {path.name} done in {log[-1]['seconds']} s", flush=True)
                from helpers.files import atomic_write  # a run stopped while writing keeps the previous log whole

                atomic_write(run_dir / RUN_LOG, lambda tmp: Path(tmp).write_text(json.dumps(log, indent=2)))
        finally:
            km.shutdown_kernel(now=True)
    return log


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python tools/run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", help="run folder name under --runs (default: <profile>-<date>-<time>)")
    parser.add_argument("--runs", default=str(REPO / "runs"), help="parent folder of run folders (default: runs/)")
    parser.add_argument("--config", help="YAML file with a mapping of parameter names to values")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="a notebook parameter, e.g. -p sample_size 500 (repeatable; wins over --config)")
    parser.add_argument("--notebooks", nargs="*", help="only these notebooks, by number or name prefix (e.g. 03 04)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the results of an existing run folder that the notebooks run (and those that "
                             "read them) write: the re-run runs beside it and is swapped in when it succeeds; your "
                             "labels_to_edit.csv is kept")
    parser.add_argument("--log-output", action="store_true", help="stream the notebooks' outputs to the terminal")
    parser.add_argument("--exercises", action="store_true", help="also run the exercises' solutions (tests do)")
    parser.add_argument("--fresh-kernels", action="store_true",
                        help="one kernel per notebook, as Jupyter opens them (default: one for the run, reset between)")
    return parser.parse_args(argv)


def gather_parameters(config: Optional[str], given: list[tuple[str, str]], cwd: Path) -> dict[str, Any]:
    """The parameters of ``--config`` and ``-p`` (which wins), typed, their paths made absolute against ``cwd``."""
    parameters: dict[str, Any] = {}
    if config:
        loaded = yaml.safe_load(Path(config).read_text()) or {}
        if not isinstance(loaded, dict):
            raise SystemExit(f"{config} must hold a mapping of parameter names to values.")
        parameters.update(loaded)
    parameters.update({name: parse_value(value) for name, value in given})
    return absolute_paths(parameters, cwd)


def check_values(parameters: dict[str, Any]) -> None:
    """Check the parameters as the notebooks will (``resolve_settings``) before papermill writes any of them
    into an executed notebook: a credential in any string at any depth (a URL's user name and password or a
    key in its query, a value shaped like a key: :func:`helpers.credentials.credential_paths`), a name in
    ``more_settings`` that is no setting, a bad value or a key given as ``llm_api_key_env`` stops the run here
    with one sentence that never repeats the value, and nothing is written."""
    from helpers.credentials import credential_paths
    from helpers.settings import closest_hint, knob_names, resolve_settings

    more = parameters.get("more_settings") or {}
    if not isinstance(more, dict):
        raise SystemExit("more_settings must be a mapping of setting names to values, e.g. -p more_settings "
                         "'{\"llm_backend\": \"openai\"}'.")
    found = credential_paths(parameters)
    if found:
        raise SystemExit(f"{found[0]} carries a user name or password, a key in a URL's query or something shaped "
                         f"like a key, which the executed notebooks would keep: give it without them and put the key "
                         f"in the environment variable that llm_api_key_env or embedding_api_key_env names "
                         f"(OPENAI_API_KEY unless you set it).")
    unknown = [k for k in more if k not in knob_names()]
    if unknown:
        raise SystemExit(f"more_settings names {str(unknown[0])[:40]!r}, which is no setting; the settings are "
                         f"{', '.join(knob_names())}.{closest_hint(str(unknown[0]), knob_names())}")
    parameters = {**more, **parameters}
    knobs = {k: v for k, v in parameters.items() if k in knob_names()}
    try:
        resolve_settings(parameters.get("profile", "offline"), **knobs)
    except ValueError as error:
        raise SystemExit(str(error)) from None


def run_replacing(paths: list[Path], parameters: dict[str, Any], run_dir: Path, overwrite: bool, *options) -> None:
    """:func:`execute`; with ``overwrite`` on a folder holding results, into a sibling folder
    (:func:`staging_folder`) swapped in once every notebook succeeded (:func:`tools.overwrite.swap_in`). When the re-run fails,
    ``run_dir`` is as it was, with the failed notebook's executed copy beside it as ``<name>.failed.ipynb``."""
    import shutil

    from tools.overwrite import swap_in

    if not (overwrite and any(run_dir.iterdir())):
        return execute(paths, parameters, run_dir, *options)
    staging = staging_folder(run_dir, paths)
    print(f"[run] --overwrite: running in {staging.name} beside {run_dir.name}; {run_dir.name} is replaced only "
          f"when every notebook has run", flush=True)
    try:
        execute(paths, parameters, staging, *options)
    except BaseException as error:
        failed = getattr(error, "output", None)
        kept = run_dir / failed.with_suffix(".failed.ipynb").name if failed is not None and failed.exists() else None
        if kept is not None:
            failed.replace(kept)
        shutil.rmtree(staging.parent, ignore_errors=True)  # the staging root (tools.overwrite.sibling_copy)
        print(f"[run] --overwrite: the re-run failed; the earlier results in {run_dir} are untouched", flush=True)
        if isinstance(error, NotebookFailed):
            raise SystemExit(f"{error.summary}\nThe executed copy with the error is {kept}") from None
        raise
    swap_in(run_dir, staging, YOURS)


def main(argv: Optional[list[str]] = None) -> Path:
    """Command-line entry point; returns the run folder."""
    args = parse_args(argv)
    parameters = gather_parameters(args.config, args.parameter, Path.cwd())
    paths = notebook_paths(only=args.notebooks)
    check_names(parameters, {p: declared_parameters(p) for p in paths})
    check_values(parameters)
    name = args.name or f"{parameters.get('profile', 'offline')}-{datetime.now():%Y%m%d-%H%M%S}"
    run_dir = prepare_run_dir(Path(args.runs), name, args.overwrite, paths)
    start, started_at = time.perf_counter(), time.time()
    run_replacing(paths, parameters, run_dir, args.overwrite, args.log_output, args.exercises, args.fresh_kernels)
    print(f"\nDone in {time.perf_counter() - start:.0f} s. Results in {run_dir}:")
    for artifact in written_since(run_dir, started_at):
        print(f"  {artifact}")
    print(f"  executed notebooks: {', '.join(p.name for p in paths)}")
    return run_dir


if __name__ == "__main__":
    main(sys.argv[1:])
