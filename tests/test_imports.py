"""Importing helpers changes nothing process-wide; setup_notebook does, visibly (issue 25, item 19)."""

import os
import subprocess
import sys

from helpers.machine import NUMBA_UNCACHED

IMPORT_ONLY = """
import sys
import helpers.batched_generation, helpers.labels, helpers.evaluation
from helpers.batched_generation import BatchedTextGeneration
from helpers.labels import labels_table
heavy = sorted(m for m in ("bertopic", "umap", "datashader", "hdbscan", "numba", "gguf") if m in sys.modules)
import numba
from numba.core.decorators import jit
print("heavy:", heavy)
print("jit untouched:", numba.jit is jit)
"""

SETUP = """
import sys
import numba
from numba.core.decorators import jit
from helpers.machine import setup_notebook
from helpers.settings import resolve_settings
setup_notebook(resolve_settings("offline"))
print("jit untouched:", numba.jit is jit)
print("imported:", all(m in sys.modules for m in %r))
""" % (NUMBA_UNCACHED,)


def _run(code: str, tmp_path) -> str:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_importing_labels_and_evaluation_pulls_in_no_bertopic_umap_datashader_nor_numba(tmp_path):
    out = _run(IMPORT_ONLY, tmp_path)
    assert "heavy: []" in out and "jit untouched: True" in out, out
    assert not (tmp_path / "numba").exists(), "nothing compiled or cached at import"


def test_the_labeler_is_still_a_bertopic_representation_model():
    import copy
    import pickle

    from bertopic.representation._base import BaseRepresentation
    from sklearn.base import clone

    import helpers.batched_generation as labels

    llm = labels.BatchedTextGeneration(None, "[KEYWORDS]", batch_size=3)
    assert isinstance(llm, BaseRepresentation) and isinstance(llm, labels.BatchedTextGeneration)
    assert repr(llm).startswith("BatchedTextGeneration(") and llm.get_params()["batch_size"] == 3
    assert clone(llm).batch_size == 3 and copy.deepcopy(llm).batch_size == 3
    assert b"_BatchedRepresentation" in pickle.dumps(llm) and labels._BatchedRepresentation is type(llm)


def test_setup_notebook_caches_numba_kernels_and_says_so(tmp_path):
    out = _run(SETUP, tmp_path)
    line = next(line for line in out.splitlines() if line.startswith("numba: "))
    assert int(line.split()[1]) > 0 and "cached on disk by this call" in line, out
    assert "jit untouched: True" in out and "imported: True" in out, out
    assert any((tmp_path / "numba").rglob("*.nbi")), "kernels were cached where NUMBA_CACHE_DIR says"
