import json

import numpy as np
import pytest

from helpers.files import atomic_folder, atomic_write
from helpers.topics import cached_array, content_key, scaled_min_cluster_size
from helpers.runs import RUN_FORMAT_VERSION, load_results


def test_content_key_changes_with_any_document_or_the_model():
    base = content_key("model-a", ["one", "two"])
    assert base == content_key("model-a", ["one", "two"])
    assert base != content_key("model-a", ["one", "two!"])
    assert base != content_key("model-b", ["one", "two"])
    assert base != content_key("model-a", ["onetwo"])  # boundaries count


def test_cached_array_computes_once_then_reuses(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return np.arange(6).reshape(2, 3)

    first, reused_first = cached_array(tmp_path / "c" / "x.npy", compute)
    second, reused_second = cached_array(tmp_path / "c" / "x.npy", compute)
    assert (reused_first, reused_second, len(calls)) == (False, True, 1)
    assert np.array_equal(first, second)


def test_atomic_write_leaves_no_temporary_file_and_keeps_the_old_one_on_failure(tmp_path):
    target = tmp_path / "a.txt"
    atomic_write(target, lambda t: open(t, "w").write("old"))

    def broken(tmp):
        open(tmp, "w").write("half")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        atomic_write(target, broken)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_atomic_folder_replaces_the_old_one_only_when_complete(tmp_path):
    target = tmp_path / "model"
    atomic_folder(target, lambda d: (d / "weights").write_text("old"))

    def broken(folder):
        (folder / "weights").write_text("half")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        atomic_folder(target, broken)
    assert (target / "weights").read_text() == "old"
    atomic_folder(target, lambda d: (d / "weights").write_text("new"))
    assert (target / "weights").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_a_failed_rename_raises_and_keeps_the_previous_complete_folder(tmp_path, monkeypatch):
    from pathlib import Path

    target = tmp_path / "model"
    atomic_folder(target, lambda d: (d / "weights").write_text("old"))
    real_rename = Path.rename

    def failing_rename(self, to):
        if Path(to) == target and self.name.startswith(".model-") and "-old-" not in self.name:
            raise PermissionError(13, "Permission denied", str(to))
        return real_rename(self, to)

    monkeypatch.setattr(Path, "rename", failing_rename)
    with pytest.raises(PermissionError):
        atomic_folder(target, lambda d: (d / "weights").write_text("new"))
    assert (target / "weights").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_artifacts_get_the_permissions_of_a_plain_open_under_the_umask(tmp_path, umask):
    import os
    import stat

    previous = os.umask(umask)
    try:
        atomic_write(tmp_path / "a.csv", lambda t: open(t, "w").write("x"))
        atomic_folder(tmp_path / "model", lambda d: (d / "weights").write_text("w"))
        with open(tmp_path / "plain.csv", "w") as f:
            f.write("x")
        (tmp_path / "plain").mkdir()
    finally:
        os.umask(previous)
    mode = lambda p: stat.S_IMODE((tmp_path / p).stat().st_mode)  # noqa: E731
    assert mode("a.csv") == mode("plain.csv") == 0o666 & ~umask
    assert mode("model") == mode("plain") == 0o777 & ~umask


@pytest.mark.parametrize("n_docs, size", [(300, 10), (2225, 22), (117_592, 150), (5, 10)])
def test_min_cluster_size_scales_with_the_corpus(n_docs, size):
    assert scaled_min_cluster_size(n_docs) == size


def test_missing_results_name_notebook_03(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"lacks topic_model, topics.csv.*Run notebook 03_topic_modeling"):
        load_results(tmp_path)


def test_results_of_another_version_are_refused(tmp_path):
    for name in ("topic_model", "topics.csv", "labels.csv", "documents.parquet"):
        (tmp_path / name).touch()
    (tmp_path / "settings.json").write_text(json.dumps({"format_version": RUN_FORMAT_VERSION + 1}))
    with pytest.raises(ValueError, match=r"written by another version.*Re-run notebook 03"):
        load_results(tmp_path)


def test_too_large_min_cluster_size_is_adapted_with_a_note():
    from helpers.topics import fit_min_cluster_size

    assert fit_min_cluster_size(300, None) == (10, None)
    size, note = fit_min_cluster_size(60, 150)
    assert size == 20 and note == "min_cluster_size 150 is too large for 60 documents; using 20."


def test_too_few_documents_is_an_error_saying_how_many_are_needed():
    from helpers.topics import fit_min_cluster_size

    with pytest.raises(ValueError, match=r"Only 12 documents: topic modeling needs at least 20. Give a larger"):
        fit_min_cluster_size(12, None)


def test_all_outliers_names_the_knob_to_turn():
    from helpers.topics import check_topics_found

    with pytest.raises(ValueError, match=r"Every document was put in the outlier topic -1.*min_cluster_size 40.*Lower `min_cluster_size`"):
        check_topics_found([-1, -1, -1], 40)
    check_topics_found([-1, 0, 1], 40)


class _Planted:
    """Unpickling this creates ``marker``: what a pickled "topic_model" in a shared run folder could do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _complete_run_folder(run_dir):
    for name in ("topics.csv", "labels.csv", "documents.parquet"):
        (run_dir / name).touch()
    (run_dir / "settings.json").write_text(json.dumps({"format_version": RUN_FORMAT_VERSION,
                                                       "embedding_model": "packaged:all-MiniLM-L6-v2"}))


@pytest.mark.parametrize("shape", ["pickle file", "torch weights in the folder", "folder without safetensors"])
def test_a_run_folder_whose_topic_model_is_not_safetensors_is_refused_before_anything_runs(tmp_path, shape):
    import pickle

    marker = tmp_path / "code-ran"
    _complete_run_folder(tmp_path)
    model = tmp_path / "topic_model"
    if shape == "pickle file":
        model.write_bytes(pickle.dumps(_Planted(marker)))
    else:
        model.mkdir()
        for name in ("topics.json", "config.json", "ctfidf_config.json"):
            (model / name).write_text("{}")
        if shape == "torch weights in the folder":  # BERTopic falls back to torch.load for a missing ctfidf.safetensors
            (model / "topic_embeddings.safetensors").write_bytes(b"")
            (model / "ctfidf.bin").write_bytes(pickle.dumps(_Planted(marker)))
        else:
            (model / "topic_embeddings.bin").write_bytes(pickle.dumps(_Planted(marker)))
    with pytest.raises(ValueError, match=r"topic_model is not a safetensors topic-model folder \(a pickle or torch "
                                         r"weights would run code when loaded\), so it is not loaded") as error:
        load_results(tmp_path, embedding_model="not loaded either")
    assert not marker.exists(), "nothing was unpickled"
    assert str(error.value).count(". ") == 0 and str(error.value).endswith("re-run 03."), "one sentence"


def test_the_safetensors_folder_notebook_03_writes_is_accepted(tmp_path):
    from helpers.runs import safe_model_folder

    model = tmp_path / "topic_model"
    model.mkdir()
    for name in ("topics.json", "config.json", "ctfidf_config.json", "topic_embeddings.safetensors", "ctfidf.safetensors"):
        (model / name).write_text("{}")
    assert safe_model_folder(model) == model


def test_the_2d_coordinates_cache_is_keyed_by_the_reducer_and_its_settings(tmp_path):
    """Issue 25, item 11: other UMAP settings, another seed or cuML's UMAP never reuse cached coordinates."""
    from umap import UMAP

    from helpers.topics import reduced_path

    embeddings = np.random.RandomState(0).normal(size=(30, 8)).astype(np.float32)
    umap_2d = dict(n_neighbors=15, n_components=2, min_dist=0.0, metric="cosine", random_state=42)
    same = reduced_path(tmp_path, embeddings, UMAP(**umap_2d))
    assert reduced_path(tmp_path, embeddings, UMAP(**umap_2d)) == same, "the same settings: the same file"

    class CumlUMAP(UMAP):  # what use_cuml brings: another class with the same settings
        pass

    others = [UMAP(**{**umap_2d, "n_neighbors": 30}), UMAP(**{**umap_2d, "random_state": 7}),
              UMAP(**{**umap_2d, "metric": "euclidean"}), UMAP(**{**umap_2d, "min_dist": 0.1}), CumlUMAP(**umap_2d)]
    paths = {reduced_path(tmp_path, embeddings, model) for model in others}
    assert len(paths) == len(others) and same not in paths
    assert reduced_path(tmp_path, embeddings[::-1], UMAP(**umap_2d)) != same, "other embeddings"


def test_the_2d_coordinates_cache_tells_dict_valued_settings_apart(tmp_path):
    """Issue 37, item 10: `metric_kwds={"p": 1}` and `{"p": 3}` were both keyed as "dict"."""
    from umap import UMAP

    from helpers.topics import reduced_path

    embeddings = np.random.RandomState(0).normal(size=(30, 8)).astype(np.float32)
    one, three = (reduced_path(tmp_path, embeddings, UMAP(metric="minkowski", metric_kwds={"p": p})) for p in (1, 3))
    assert one != three
    assert one == reduced_path(tmp_path, embeddings, UMAP(metric="minkowski", metric_kwds={"p": 1}))


def _foreign_folder(run_dir, **names):
    """A complete run folder whose settings.json names ``names`` (someone else's servers and key variables)."""
    _complete_run_folder(run_dir)
    (run_dir / "topic_model").mkdir()
    for name in ("topics.json", "config.json", "ctfidf_config.json", "topic_embeddings.safetensors"):
        (run_dir / "topic_model" / name).write_text("{}")
    saved = {"format_version": RUN_FORMAT_VERSION, "profile": "offline", "embedding_model": "packaged:all-MiniLM-L6-v2",
             **names}
    (run_dir / "settings.json").write_text(json.dumps(saved))
    return saved


ELSEWHERE = {"embedding_backend": "openai", "embedding_base_url": "http://elsewhere.invalid/v1",
             "embedding_api_key_env": "HF_TOKEN", "embedding_model": "their/embedder"}


def test_a_run_folder_never_chooses_the_embedding_server_or_its_key_variable(tmp_path, monkeypatch):
    """Issue 37, item 1: a settings.json naming a server and `HF_TOKEN` made 05 send the token and every document."""
    from helpers.settings import resolve_settings
    from helpers.runs import load_results, session_settings

    import helpers.topics as topics

    monkeypatch.setattr(topics, "open_embedding_model", lambda s: pytest.fail("nothing may be opened"))
    saved = _foreign_folder(tmp_path, **ELSEWHERE)
    with pytest.raises(ValueError, match=r"made with embedding_backend 'openai' and this session's is "
                                         r"'sentence-transformers'.*never chooses a server, a key variable") as error:
        load_results(tmp_path, resolve_settings("offline"))
    assert str(error.value).count(". ") == 0 and "elsewhere" not in str(error.value) and "HF_TOKEN" not in str(error.value)
    with pytest.raises(ValueError, match="never chooses"):
        load_results(tmp_path)  # no session given: the folder's profile as this series defines it
    mine = resolve_settings("offline", embedding_backend="openai", embedding_base_url="http://127.0.0.1:7997/v1",
                            embedding_model="their/embedder")
    opened = session_settings(saved, mine)
    assert (opened.embedding_base_url, opened.embedding_api_key_env) == ("http://127.0.0.1:7997/v1", "OPENAI_API_KEY")


def test_a_run_folder_never_chooses_a_model_download(tmp_path):
    from helpers.settings import resolve_settings
    from helpers.runs import load_results

    _foreign_folder(tmp_path, embedding_model="someone/any-model")
    with pytest.raises(ValueError, match=r"made with the embedding model 'someone/any-model' and this session's is "
                                         r"'packaged:all-MiniLM-L6-v2': pass -p embedding_model"):
        load_results(tmp_path, resolve_settings("offline"))
    model = tmp_path / "topic_model"
    (model / "config.json").write_text(json.dumps({"embedding_model": "someone/any-model"}))
    with pytest.raises(ValueError, match=r"names an embedding model in its config.json, which BERTopic.load would "
                                         r"download"):
        load_results(tmp_path, resolve_settings("offline", embedding_model="someone/any-model"))


def test_06_and_07_never_take_the_llm_server_or_key_variable_from_the_folder(tmp_path):
    from helpers.runs import session_settings
    from helpers.settings import resolve_settings

    def run_settings(results, session):  # what notebook 06 opens a run folder with
        return session_settings(results["settings"], session, ("embedding", "llm"))

    theirs = {"llm_backend": "openai", "llm_base_url": "http://elsewhere.invalid/v1", "llm_api_key_env": "HF_TOKEN",
              "llm_model": "their/chat", "cache_dir": "/their/cache"}
    saved = _foreign_folder(tmp_path, **theirs)
    with pytest.raises(ValueError, match=r"made with llm_backend 'openai' and this session's is 'transformers'"):
        run_settings({"settings": saved}, resolve_settings("offline"))
    mine = resolve_settings("offline", llm_backend="openai", llm_base_url="http://127.0.0.1:8000/v1", llm_model="their/chat")
    settings = run_settings({"settings": saved}, mine)
    assert (settings.llm_base_url, settings.llm_api_key_env, settings.cache_dir) == (
        "http://127.0.0.1:8000/v1", "OPENAI_API_KEY", None)
    # 04 and 05 never ask the LLM: its server in the folder is dropped, not refused
    from helpers.runs import session_settings

    assert session_settings(saved, resolve_settings("offline")).llm_backend == "transformers"


def test_a_folder_made_on_another_machine_chooses_neither_replay_nor_the_batch_size(tmp_path):
    """A folder made on an A100 (``label_batch_size`` 16) or in a replay: 06 opened on a T4 or with a model here
    labels with this session's batch size and replay setting, which its memory check and replay check then name."""
    from helpers.runs import session_settings
    from helpers.settings import resolve_settings

    saved = _foreign_folder(tmp_path, llm_model="packaged:SmolLM2-135M-Instruct", label_batch_size=16, replay_only=True,
                            nr_docs=3)
    opened = session_settings(saved, resolve_settings("offline", label_batch_size=1), ("embedding", "llm"))
    assert (opened.label_batch_size, opened.replay_only) == (1, False)
    assert opened.nr_docs == 3, "how the run was labelled is still the folder's"


@pytest.mark.parametrize("text, said", [('{"format_version": 3, "pro', "is not readable JSON"), ("[1, 2]", "holds a JSON list")])
def test_a_settings_json_cut_short_or_not_an_object_is_one_sentence(tmp_path, text, said):
    from helpers.runs import read_run_settings

    _complete_run_folder(tmp_path)
    (tmp_path / "topic_model").mkdir()
    (tmp_path / "settings.json").write_text(text)
    with pytest.raises(ValueError, match=f"settings.json {said}.*re-run notebook 03 into a new run_dir"):
        read_run_settings(tmp_path)
