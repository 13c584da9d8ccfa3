"""Importing helpers changes nothing process-wide (issue 25, item 19)."""

import os
import subprocess
import sys
import pytest

pytestmark = pytest.mark.same_on_any_cpu  # what importing pulls in: no precision changes it

IMPORT_ONLY = """
import sys
import helpers.settings, helpers.machine, helpers.prompts, helpers.files
heavy = sorted(m for m in ("bertopic", "umap", "datashader", "hdbscan", "numba", "gguf") if m in sys.modules)
import os
print("cached before BERTopic:", os.path.exists(os.environ["NUMBA_CACHE_DIR"]))
import helpers.labels, helpers.evaluation  # the labeler is a BERTopic representation: these import BERTopic
from helpers.labeler import BatchedTextGeneration
from helpers.labels import labels_table
import numba
from numba.core.decorators import jit
print("heavy:", heavy)
print("jit untouched:", numba.jit is jit)
"""


def _run(code: str, tmp_path) -> str:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_importing_the_settings_machine_and_prompts_pulls_in_no_bertopic_umap_datashader_nor_numba(tmp_path):
    """The light modules stay light; the labeler (a BERTopic representation model, helpers.labeler) and what
    uses it (helpers.labels, helpers.evaluation) import BERTopic, and still change nothing process-wide."""
    out = _run(IMPORT_ONLY, tmp_path)
    assert "heavy: []" in out and "jit untouched: True" in out, out
    assert "cached before BERTopic: False" in out, "nothing compiled or cached at import (BERTopic's UMAP may)"


def test_the_labeler_is_still_a_bertopic_representation_model():
    import copy
    import pickle

    from bertopic.representation._base import BaseRepresentation
    from sklearn.base import clone

    import helpers.labeler as labels

    llm = labels.BatchedTextGeneration(None, "[KEYWORDS]", batch_size=3)
    assert isinstance(llm, BaseRepresentation) and isinstance(llm, labels.BatchedTextGeneration)
    assert repr(llm).startswith("BatchedTextGeneration(") and llm.get_params()["batch_size"] == 3
    assert clone(llm).batch_size == 3 and copy.deepcopy(llm).batch_size == 3
    assert type(llm) is labels.BatchedTextGeneration and BaseRepresentation in type(llm).__bases__, "an ordinary subclass"
    again = pickle.loads(pickle.dumps(llm))
    assert type(again) is labels.BatchedTextGeneration and again.get_params() == llm.get_params()


SETUP_THEN_03S_CACHED = """
import sys
import numba
import numpy as np
from numba.core.caching import NullCache
from numba.core.decorators import jit
from sklearn.decomposition import PCA
from helpers.machine import cache_numba_kernels, setup_notebook
settings = setup_notebook("offline")
print("heavy after setup:", sorted(m for m in ("bertopic", "umap", "datashader", "hdbscan") if m in sys.modules))
from helpers.topics import cached
xy = cached(PCA(n_components=2).fit_transform, np.arange(40.0).reshape(10, 4) ** 0.5, settings)
import umap.distances
print("shape:", xy.shape, "umap cached:", not isinstance(umap.distances.euclidean._cache, NullCache))
umap.distances.euclidean(np.ones(3), np.zeros(3))  # compiles one kernel, into numba's cache
print("kernels:", cache_numba_kernels(), "jit untouched:", numba.jit is jit)  # how many have the cache on
"""


@pytest.fixture(scope="module")
def numba_cache_run(tmp_path_factory):
    """One process (umap-learn and torch imported once for both tests below): 00's setup, then 03's 2-D ``cached``."""
    where = tmp_path_factory.mktemp("numba-run")
    return _run(SETUP_THEN_03S_CACHED, where), where


def test_cache_numba_kernels_turns_on_numbas_own_cache_for_umaps_kernels_without_touching_numba_jit(numba_cache_run):
    """benchmarks/monkeypatches.py: a process fitting UMAP starts about 15 s sooner once its kernels are cached."""
    out, where = numba_cache_run
    count = int(out.split("kernels:")[1].split()[0])
    assert count > 50 and "jit untouched: True" in out, out
    assert any((where / "numba").rglob("*.nbi")), "the compiled kernel is cached where NUMBA_CACHE_DIR says"


def test_setup_imports_no_umap_and_notebook_03s_cached_turns_numbas_cache_on(numba_cache_run):
    """00 and 01 fit no UMAP, so their setup line pays no import of it (8 s on 2 cores); 03's 2-D ``cached(...)``,
    before UMAP's first fit, turns numba's own cache on for its kernels."""
    out, _ = numba_cache_run
    assert "heavy after setup: []" in out, out
    assert "shape: (10, 2) umap cached: True" in out, out
