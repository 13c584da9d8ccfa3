"""Colab's fresh runtimes: keep the run folder on Google Drive, or run notebook 03 first when its results are missing.
Called by the Colab editions of notebooks 02-07; outside Colab both do nothing.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

from .auth import token_source
from .machine import running_in_colab
from .runs import REQUIRED_RESULTS

DRIVE = Path("/content/drive")
DRIVE_FOLDER = DRIVE / "MyDrive" / "topic-modeling-llama2"  # relative run folders go here
# How long notebook 03 takes, per profile
TIME_OF_03 = {
    "offline": "about 1 minute for 300 documents and 2 for all 2,225 on 2 CPU cores",
    "colab-t4": "about 25 minutes on a T4: the 13B model's download (26 GB) and 117,592 abstracts",
}


def drive_run_dir(run_dir: str, keep_on_drive: bool) -> str:
    """``run_dir`` on the learner's Google Drive (mounted, asking consent once) when ``keep_on_drive``, else
    unchanged; a relative one goes under ``DRIVE_FOLDER``."""
    if not keep_on_drive:
        return run_dir
    if not running_in_colab():
        print(f"keep_on_drive is a Colab switch: outside Colab the results stay in {run_dir}.")
        return run_dir
    folder = Path(run_dir) if Path(run_dir).is_absolute() else DRIVE_FOLDER / run_dir
    if not folder.resolve().is_relative_to(DRIVE.resolve()):
        print(f"keep_on_drive: {folder} is outside your Google Drive ({DRIVE}), so the results stay there and go "
              f"with the runtime; give a relative run_dir to keep them in {DRIVE_FOLDER}.")
        return run_dir
    if not (DRIVE / "MyDrive").exists():
        from google.colab import drive

        drive.mount(str(DRIVE))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"Results are kept on your Google Drive: {folder}")
    return str(folder)


def make_results_of_03(run_dir: str, notebook_03: str, profile: str, sample_size: Optional[int] = None) -> str:
    """Make notebook 03's results in ``run_dir`` unless there: run 03 (``notebook_03``, its JSON source) with
    papermill and this ``profile``, ``run_dir`` and ``sample_size``. Returns one sentence on what it did."""
    import nbformat
    import papermill

    missing = [name for name in REQUIRED_RESULTS if not (Path(run_dir) / name).exists()]
    if not missing:
        return f"Notebook 03's results are in {run_dir}."
    print(f"This runtime has no results of notebook 03 in {run_dir} (a notebook opened on its own starts with an "
          f"empty disk), so notebook 03 runs first, with profile {profile!r}: {TIME_OF_03.get(profile, 'minutes')}.",
          flush=True)
    token_source()  # 03's kernel inherits HF_TOKEN from our environment
    folder = Path(run_dir).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    papermill.execute_notebook(
        nbformat.reads(notebook_03, as_version=4), str(folder / "03_topic_modeling.ipynb"),
        parameters={"profile": profile, "run_dir": str(folder), "sample_size": sample_size},
        kernel_name="python3", progress_bar=False, cwd=str(Path.cwd()),  # where helpers/ is
    )
    return f"Notebook 03 ran in {time.perf_counter() - start:.0f} s; its results are in {run_dir}."
