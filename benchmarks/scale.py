"""Benchmark: every stage after embedding at the reference's size (117,592 documents), time and peak memory.

    .venv/bin/python benchmarks/scale.py                                  # 10,000, 30,000 and 117,592 documents
    .venv/bin/python benchmarks/scale.py --sizes 10000 --lock /tmp/heavy.lock   # shares a machine: see --hold
    .venv/bin/python benchmarks/scale.py --table                          # the recorded table, as markdown

Results merge, size by size, into ``benchmarks/results/scale-offline-2core.json`` (``--json`` for another file).

The corpus, built offline from the packaged BBC News (:func:`helpers.data.load_corpus`, "packaged:bbc-news"):

1. Every article's body is split into sentences (after ``.``, ``!`` or ``?`` followed by a space and a capital
   letter or a quote); sentences of 4 to 80 words are kept.
2. Every sentence is embedded once with the packaged all-MiniLM-L6-v2 (notebook 03's model and precision),
   cached by content; an article's vector is the normalised mean of its sentences'.
3. Within each of the 5 categories the articles are grouped into *storylines* by k-means on those vectors
   (one storyline per 20 articles, at least 2 per category, seed 42): 112 storylines.
4. A document: a storyline drawn with probability proportional to its articles, two of its articles drawn,
   5 to 9 of their sentences drawn (without replacement, in article order); its title is the first article's
   headline, its category the storyline's. About 150 words, an ArXiv abstract's length.
5. Its embedding is the normalised mean of its sentences' embeddings (what mean pooling gives, close to
   embedding the text: the cosine between the two is measured on 200 documents of every size and recorded).

So topics come from real sentences and real embeddings, a storyline of ~1,000 documents at 117k is a plausible
topic for ``min_cluster_size=150``, and no document is embedded at the full corpus's cost (1.3 h at 25
documents/s on 2 cores). What it does not reproduce: the vocabulary. Recombined BBC sentences keep BBC's
~30k words, where 117k ArXiv abstracts have several times more; c-TF-IDF, key phrases and NPMI grow with the
vocabulary (key phrases are tested for that apart: tests/test_labels.py, a 100x vocabulary).

The stages, each in a child process of its own (inputs and outputs as .npy, .json, .parquet and BERTopic's
safetensors folder, never pickle), called as notebooks 03-06 call them (``resolve_settings("offline")``):

03  5-D UMAP (n_neighbors 15, cosine, seed 42), HDBSCAN (``min_cluster_size=150``, eom, prediction data),
    the 2-D UMAP, c-TF-IDF (BERTopic ``fit`` on the precomputed embeddings and clusters, English stop words),
    KeyBERTInspired, MMR (diversity 0.3), the LLM labels of every topic (the packaged SmolLM2 through
    :func:`helpers.open_llm.open_labeler` and :class:`~helpers.labeler.BatchedTextGeneration` with the offline
    profile's settings: 4 documents of 60 words per prompt, 8 prompts per batch, key phrases; every answer
    generated, none replayed), and :func:`helpers.runs.save_results`. Each representation is BERTopic's own
    ``_extract_words_per_topic`` on the saved c-TF-IDF model (what ``fit`` runs after c-TF-IDF).
04  ``visualize_documents`` written as HTML (:func:`helpers.plots.save_html`), that file opened in headless
    Chromium with the network cut (tests/browser.py's flags), and datamapplot's static map (png).
05  :func:`helpers.evaluation.evaluate_folder`: NPMI over the whole corpus for every representation, diversity,
    label faithfulness and confidence, agreement with the categories (the NPMI part timed apart).
06  ``hierarchical_topics`` on 03's topics and every inner node labelled by the LLM
    (:func:`helpers.refine.hierarchy_groups`, ``label_groups``), drawn with ``visualize_hierarchy``. 06's merge
    and outlier steps are not run: the hierarchy of all of 03's topics has more nodes to label than 06's.

One variant beside them: ``datamapplot_noglow`` (04's map with ``add_glow=False``: the default glow keeps a KDE
contour per topic, ~100 MB each). The LLM stages judge a topic or node on its centre and at most
``helpers.labeler._choice.JUDGED_DOCS`` (2,000) of its documents; the rows recorded before that bound are kept in the JSON as
``llm_before_bound`` and ``hierarchy_before_bound``.

Each stage records its wall seconds and the peak resident memory of its process (``VmHWM``, read at its end;
``baseline_mb`` is what the process held after its imports, before any data), against a free Colab's 12.7 GB
and the 8 GB this series allows a stage. Chromium's peak is its largest process's (``RUSAGE_CHILDREN``, taken in
a small launcher process). With ``SCALE_CAP_MB`` set, a stage whose memory passes it is stopped and recorded as
not completed, so a stage that does not fit cannot exhaust a shared machine.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
RESULTS = REPO / "benchmarks" / "results" / "scale-offline-2core.json"
SIZES = (10_000, 30_000, 117_592)
COLAB_MB, LIMIT_MB = 12.7 * 1024, 8 * 1024
MIN_CLUSTER_SIZE = 150
ARTICLES_PER_STORYLINE = 20
FIDELITY_DOCS = 200


# ------------------------------------------------------------------------------------------------ memory
def status_mb(field: str) -> float:
    """``VmHWM`` (peak) or ``VmRSS`` (now) of this process, in MB, from /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field}: this benchmark measures memory on Linux only.")


def reset_peak() -> bool:
    """Set ``VmHWM`` back to the current resident size (Linux >= 4.0); False where that is not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


# ------------------------------------------------------------------------------------------------ corpus
def sentences_of(text: str) -> list[str]:
    """The sentences of an article body that carry a topic: 4 to 80 words."""
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z\"'])", text)
    return [s.strip() for s in parts if 4 <= len(s.split()) <= 80]


def sentence_bank(settings, articles: int | None, cache: Path) -> dict[str, Any]:
    """The BBC articles' sentences and their embeddings (cached by content), grouped into storylines."""
    import numpy as np
    from sklearn.cluster import KMeans

    from helpers.data import load_corpus
    from helpers.topics import cached_array, content_key, embeddings_path, load_embedding_model

    corpus = load_corpus(settings.dataset, settings.text_column, settings.title_column, settings.category_column,
                         articles, settings.seed, False)
    per_article = [sentences_of(text) for text in corpus.abstract]
    keep = [i for i, s in enumerate(per_article) if len(s) >= 3]
    corpus, per_article = corpus.iloc[keep].reset_index(drop=True), [per_article[i] for i in keep]
    flat = [s for sentences in per_article for s in sentences]
    owner = np.repeat(np.arange(len(per_article)), [len(s) for s in per_article])
    start = time.perf_counter()
    path = embeddings_path(cache, settings.embedding_model, flat, settings.precision)
    vectors, reused = cached_array(path, lambda: load_embedding_model(settings.embedding_model, settings.precision)
                                   .encode(flat, batch_size=64, show_progress_bar=False))
    seconds = time.perf_counter() - start
    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    centres = np.array([vectors[owner == a].mean(0) for a in range(len(per_article))])
    storyline, lines = np.zeros(len(per_article), dtype=int), 0
    for category in sorted(corpus.category.unique()):
        rows = np.flatnonzero(corpus.category.to_numpy() == category)
        k = min(len(rows), max(2, round(len(rows) / ARTICLES_PER_STORYLINE)))
        storyline[rows] = lines + KMeans(n_clusters=k, n_init=4, random_state=settings.seed).fit_predict(centres[rows])
        lines += k
    return dict(corpus=corpus, per_article=per_article, sentences=flat, owner=owner, vectors=vectors,
                storyline=storyline, embed_seconds=seconds, embed_reused=reused, key=content_key(flat))


def synthetic_documents(bank: dict[str, Any], n: int, seed: int):
    """``(documents, embeddings)``: ``n`` documents recombined from the bank's storylines (module docstring)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    storyline, corpus = bank["storyline"], bank["corpus"]
    first = np.concatenate([[0], np.cumsum([len(s) for s in bank["per_article"]])])  # each article's first sentence
    lines, weights = np.unique(storyline, return_counts=True)
    members = {line: np.flatnonzero(storyline == line) for line in lines}
    rows, vectors = [], np.empty((n, bank["vectors"].shape[1]), dtype=np.float32)
    for i, line in enumerate(rng.choice(lines, size=n, p=weights / weights.sum())):
        a, b = rng.choice(members[line], size=2, replace=len(members[line]) < 2)
        pool = np.concatenate([np.arange(first[a], first[a + 1]), np.arange(first[b], first[b + 1])])
        chosen = np.sort(rng.choice(pool, size=min(len(pool), int(rng.integers(5, 10))), replace=False))
        mean = bank["vectors"][chosen].mean(0)
        vectors[i] = mean / np.linalg.norm(mean)
        rows.append({"abstract": " ".join(bank["sentences"][s] for s in chosen), "title": corpus.title[a],
                     "category": corpus.category[a], "storyline": int(line)})
    return pd.DataFrame(rows), vectors


# ------------------------------------------------------------------------------------------------ stages
def settings_of(work: Path):
    """The offline profile's settings (its model cache is the default one; the embeddings' is ``work/cache``)."""
    from helpers.settings import resolve_settings

    return resolve_settings("offline")


def config(work: Path) -> dict[str, Any]:
    return json.loads((work / "config.json").read_text())


def documents_of(work: Path):
    import pandas as pd

    return pd.read_parquet(work / "documents.parquet")


def load_npy(work: Path, name: str):
    import numpy as np

    return np.load(work / f"{name}.npy", allow_pickle=False)


def save_npy(work: Path, name: str, array) -> None:
    import numpy as np

    np.save(work / f"{name}.npy", np.asarray(array), allow_pickle=False)


def stage_corpus(work: Path) -> dict[str, Any]:
    """Build the documents and their embeddings (module docstring); place the embeddings in the benchmark's cache
    where notebooks 05 and 06 look for them; embed ``FIDELITY_DOCS`` documents for real to compare."""
    import numpy as np

    from helpers.topics import LOCAL_EMBEDDINGS, embeddings_path, open_embedding_model

    cfg, settings = config(work), settings_of(work)
    bank = sentence_bank(settings, cfg.get("articles"), Path(cfg["bank_cache"]))
    documents, embeddings = synthetic_documents(bank, cfg["size"], settings.seed)
    documents.to_parquet(work / "documents.parquet", index=False)
    save_npy(work, "embeddings", embeddings)
    embedder = open_embedding_model(settings)
    docs = documents.abstract.tolist()
    cached = embeddings_path(work / "cache", settings.embedding_model, docs, settings.precision, LOCAL_EMBEDDINGS,
                             settings.embedding_max_tokens)
    cached.parent.mkdir(parents=True, exist_ok=True)  # where notebook 03 caches them and 05 and 06 find them
    np.save(cached, embeddings, allow_pickle=False)
    sample = np.random.default_rng(0).choice(len(documents), size=min(FIDELITY_DOCS, len(documents)), replace=False)
    real = embedder.encode(documents.abstract.iloc[sample].tolist(), show_progress_bar=False)
    cosine = (real * embeddings[sample]).sum(1) / np.linalg.norm(real, axis=1)
    words = documents.abstract.str.split().str.len()
    return {"articles": len(bank["per_article"]), "sentences": len(bank["sentences"]),
            "storylines": int(len(set(bank["storyline"].tolist()))),
            "sentence_embedding_seconds": round(bank["embed_seconds"], 1), "sentence_embeddings_reused": bank["embed_reused"],
            "median_words": int(words.median()), "derived_vs_embedded_cosine": {
                "documents": len(sample), "mean": round(float(cosine.mean()), 3), "min": round(float(cosine.min()), 3)}}


def umap_model(settings, components: int):
    from umap import UMAP

    return UMAP(n_neighbors=15, n_components=components, min_dist=0.0, metric="cosine", random_state=settings.seed)


def stage_umap5(work: Path) -> dict[str, Any]:
    """03's 5-D UMAP, as BERTopic runs it: ``fit``, then ``transform`` of the same embeddings (a cached result)."""
    reducer = umap_model(settings_of(work), 5)
    embeddings = load_npy(work, "embeddings")
    reducer.fit(embeddings)
    save_npy(work, "reduced5", reducer.transform(embeddings))
    return {}


def stage_hdbscan(work: Path) -> dict[str, Any]:
    from hdbscan import HDBSCAN

    size = config(work)["min_cluster_size"]
    model = HDBSCAN(min_cluster_size=size, metric="euclidean", cluster_selection_method="eom", prediction_data=True)
    clusters = model.fit(load_npy(work, "reduced5")).labels_
    save_npy(work, "clusters", clusters)
    return {"min_cluster_size": size, "clusters": int(clusters.max() + 1), "outlier_share": round(float((clusters == -1).mean()), 3)}


def stage_umap2(work: Path) -> dict[str, Any]:
    reducer = umap_model(settings_of(work), 2)
    save_npy(work, "coords", reducer.fit_transform(load_npy(work, "embeddings")))
    return {}


def stage_ctfidf(work: Path) -> dict[str, Any]:
    """03's BERTopic ``fit`` on the precomputed embeddings and HDBSCAN's clusters: c-TF-IDF, topic vectors, the
    representative documents; saved as notebook 03 saves it (safetensors, c-TF-IDF included)."""
    from bertopic import BERTopic
    from bertopic.vectorizers import ClassTfidfTransformer
    from bertopic.cluster import BaseCluster
    from bertopic.dimensionality import BaseDimensionalityReduction
    from sklearn.feature_extraction.text import CountVectorizer

    from helpers.machine import quiet_noisy_loggers
    from helpers.topics import open_embedding_model

    settings, docs = settings_of(work), documents_of(work).abstract.tolist()
    model = BERTopic(embedding_model=open_embedding_model(settings),
                     umap_model=BaseDimensionalityReduction(), hdbscan_model=BaseCluster(),
                     vectorizer_model=CountVectorizer(stop_words=settings.stop_word_list), top_n_words=settings.top_n_words,
                     ctfidf_model=ClassTfidfTransformer(reduce_frequent_words=settings.reduce_frequent_words))
    model.fit(docs, load_npy(work, "embeddings"), y=load_npy(work, "clusters"))
    save_npy(work, "topics", model.topics_)
    quiet_noisy_loggers()
    model.save(str(work / "model_ctfidf"), serialization="safetensors", save_ctfidf=True, save_embedding_model=False)
    return {"topics": len(set(model.topics_)) - (-1 in model.topics_), "vocabulary": int(model.c_tf_idf_.shape[1])}


def fitted_model(work: Path, folder: str = "model_ctfidf"):
    """The saved topic model with its embedding model, checked as notebook 04 checks a run folder."""
    from bertopic import BERTopic

    from helpers.topics import load_embedding_model
    from helpers.runs import safe_model_folder

    settings = settings_of(work)
    embedder = load_embedding_model(settings.embedding_model, settings.precision)
    return BERTopic.load(str(safe_model_folder(work / folder)), embedding_model=embedder)


def represent(work: Path, name: str, representation):
    """One representation as BERTopic's ``fit`` computes it (its ``_extract_words_per_topic`` after c-TF-IDF),
    on the saved c-TF-IDF model; the words per topic saved as JSON. Returns the model."""
    import pandas as pd

    model, docs = fitted_model(work), documents_of(work).abstract.tolist()
    documents = pd.DataFrame({"Document": docs, "ID": range(len(docs)), "Topic": load_npy(work, "topics")})
    model.representation_model = {name: representation}
    words = model.vectorizer_model.get_feature_names_out()
    model._extract_words_per_topic(words, documents, calculate_aspects=True)
    aspect = {str(t): [[w, float(s)] for w, s in pairs] for t, pairs in model.topic_aspects_[name].items()}
    (work / f"aspect-{name}.json").write_text(json.dumps(aspect))
    return model


def stage_keybert(work: Path) -> dict[str, Any]:
    from bertopic.representation import KeyBERTInspired

    represent(work, "KeyBERT", KeyBERTInspired())
    return {}


def stage_mmr(work: Path) -> dict[str, Any]:
    from bertopic.representation import MaximalMarginalRelevance

    represent(work, "MMR", MaximalMarginalRelevance(diversity=0.3))
    return {}


def labeler(settings, embeddings, titles):
    """03's LLM representation (``teach:representations``), the packaged model loaded by ``open_labeler``; no
    answer cache, so every answer is generated."""
    from helpers.open_llm import open_labeler
    from helpers.labeler import BatchedTextGeneration
    from helpers.prompts import build_keyword_prompt, build_prompt

    generator, tokenizer = open_labeler(settings)
    return BatchedTextGeneration(
        generator, prompt=build_prompt(settings.llm_model, tokenizer),
        keyword_prompt=build_keyword_prompt(settings.llm_model, tokenizer), batch_size=settings.label_batch_size,
        max_new_tokens=settings.label_max_new_tokens, candidates=settings.label_candidates, embeddings=embeddings,
        titles=titles, nr_docs=settings.nr_docs, doc_length=settings.label_doc_words,
        tokenizer="whitespace" if settings.label_doc_words else None, random_state=settings.seed, show_progress=False,
    )


def stage_llm(work: Path) -> dict[str, Any]:
    """The LLM label of every topic, then 03's ``labels_table`` (labels.csv)."""
    from helpers.labels import labels_table

    settings, documents = settings_of(work), documents_of(work)
    start = time.perf_counter()
    llm = labeler(settings, load_npy(work, "embeddings"), documents.title.tolist())
    loaded = time.perf_counter() - start
    model = represent(work, "LLM", llm)
    labels = labels_table(model, llm, documents.abstract.tolist(), load_npy(work, "embeddings"), documents.title.tolist())
    labels.to_csv(work / "labels.csv", index=False)
    named = labels[labels.topic != -1]
    sizes = documents.assign(topic=load_npy(work, "topics")).topic.value_counts()
    return {"model_load_seconds": round(loaded, 1), "prompts": llm.generated_, "topics": len(named),
            "largest_topic_docs": int(sizes.drop(-1, errors="ignore").max()),
            "sources": named.source.value_counts().to_dict()}


def stage_save(work: Path) -> dict[str, Any]:
    """03's last step, :func:`helpers.runs.save_results`: the run folder notebooks 04-06 read."""
    import pandas as pd

    from helpers.settings import as_dict
    from helpers.runs import save_results

    settings, documents = settings_of(work), documents_of(work)
    model = fitted_model(work)
    model.topic_aspects_ = {name: {int(t): [tuple(p) for p in pairs] for t, pairs in
                                   json.loads((work / f"aspect-{name}.json").read_text()).items()}
                            for name in ("KeyBERT", "LLM", "MMR")}
    labels = pd.read_csv(work / "labels.csv", keep_default_na=False)
    model.set_topic_labels(dict(zip(labels.topic, labels.label)))
    record = {**as_dict(settings), "cache_dir": str(work / "cache"), "min_cluster_size": config(work)["min_cluster_size"]}
    save_results(work / "run", model, documents.drop(columns=["storyline"]), load_npy(work, "coords"), labels, record,
                 settings.embedding_model)
    return {}


def stage_documents_html(work: Path) -> dict[str, Any]:
    """04's ``visualize_documents`` cell, written as 04 writes it."""
    from helpers.plots import save_html
    from helpers.runs import load_results

    results = load_results(work / "run")
    documents = results["documents"]
    fig = results["topic_model"].visualize_documents(
        documents["title"].tolist(), reduced_embeddings=documents[["x", "y"]].to_numpy(),
        hide_annotations=True, hide_document_hover=False, custom_labels=True)
    path = save_html(fig, work / "run" / "documents.html")
    return {"html_mb": round(path.stat().st_size / 2**20, 1)}


TIMING_HEAD = """<script>window.__paint = {};
new PerformanceObserver(l => l.getEntries().forEach(e => window.__paint[e.name] = e.startTime))
  .observe({type: "paint", buffered: true});</script>"""
TIMING_TAIL = """<script>
(function report() {
  var done = document.querySelector(".gl-canvas") && document.querySelector(".legendtext");
  var out = document.getElementById("scale-timing") || document.body.appendChild(document.createElement("pre"));
  out.id = "scale-timing";
  out.textContent = JSON.stringify({scripts_done_ms: performance.now(), plot_drawn: !!done,
                                    paint: window.__paint, legend_entries: document.querySelectorAll(".legendtext").length});
})();
</script>"""


LAUNCHER = """import json, resource, subprocess, sys, time
start = time.perf_counter()
result = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=600)
print(json.dumps({"seconds": time.perf_counter() - start, "rc": result.returncode, "stdout": result.stdout,
                  "peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))"""


def chromium_run(args: list[str]) -> dict[str, Any]:
    """Chromium run by a small launcher process, so that its peak (the largest of its processes, RUSAGE_CHILDREN)
    is Chromium's own, not a copy of this process made by fork."""
    result = subprocess.run([sys.executable, "-c", LAUNCHER, *args], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def stage_browser(work: Path) -> dict[str, Any]:
    """04's documents.html opened in headless Chromium, network cut (tests/browser.py's flags): seconds from launch
    to the screenshot (the page's scripts have run), the same for an empty page, the page's own clock when its
    scripts were done and its paint entries (a copy of the page with two timing scripts added), whether the
    points and the legend were drawn, and Chromium's largest process's peak memory."""
    import html

    import numpy as np
    from PIL import Image

    sys.path.insert(0, str(REPO / "tests"))
    from browser import OFFLINE_FLAGS, colors_shown, chromium

    page = work / "run" / "documents.html"
    timed = work / "documents-timed.html"
    text = page.read_text()
    timed.write_text(text.replace("<head>", "<head>" + TIMING_HEAD, 1).replace("</body>", TIMING_TAIL + "</body>", 1))
    empty = work / "empty.html"
    empty.write_text("<html><body><p>empty</p></body></html>")
    common = [chromium(), *OFFLINE_FLAGS, f"--user-data-dir={work / 'chromium-profile'}"]
    empty = chromium_run([*common, f"--screenshot={work / 'empty.png'}", empty.as_uri()])
    shot = chromium_run([*common, f"--screenshot={work / 'documents.png'}", page.as_uri()])
    dump = chromium_run([*common, "--dump-dom", timed.as_uri()])
    found = re.search(r'<pre id="scale-timing">(.*?)</pre>', dump["stdout"], flags=re.S)
    timing = json.loads(html.unescape(found.group(1))) if found else None
    image = np.asarray(Image.open(work / "documents.png").convert("RGB")) if (work / "documents.png").exists() else None
    shown = colors_shown(image) if image is not None else 0
    return {"html_mb": round(page.stat().st_size / 2**20, 1), "screenshot_seconds": round(shot["seconds"], 1),
            "empty_page_screenshot_seconds": round(empty["seconds"], 1), "dump_dom_seconds": round(dump["seconds"], 1),
            "in_page": timing, "gl_canvas": 'class="gl-canvas' in dump["stdout"], "colors_shown": shown,
            "renders": bool(timing and timing["plot_drawn"] and shown >= 5), "chromium_exit": [shot["rc"], dump["rc"]],
            "chromium_peak_mb": round(max(shot["peak_mb"], dump["peak_mb"]))}


def datamap(work: Path, glow: bool) -> dict[str, Any]:
    """04's datamapplot cell: the static map of every document, saved as png; ``glow`` False adds
    ``add_glow=False`` to its ``datamap_kwds`` (no KDE glow around each topic)."""
    import matplotlib

    matplotlib.use("Agg")
    from helpers.files import atomic_write
    from helpers.runs import load_results

    results = load_results(work / "run")
    documents = results["documents"]
    kwds = {"use_system_fonts": True, "font_family": "DejaVu Sans", **({} if glow else {"add_glow": False})}
    figure = results["topic_model"].visualize_document_datamap(
        documents["title"].tolist(), reduced_embeddings=documents[["x", "y"]].to_numpy(), custom_labels=True,
        title="Documents and topics", sub_title=f"{len(documents):,} documents, LLM labels", datamap_kwds=kwds)
    name = "datamap.png" if glow else "datamap-noglow.png"
    atomic_write(work / "run" / name, lambda tmp: figure.savefig(tmp, dpi=100, bbox_inches="tight"))
    return {"png_kb": round((work / "run" / name).stat().st_size / 1024)}


def stage_datamapplot(work: Path) -> dict[str, Any]:
    return datamap(work, glow=True)


def stage_datamapplot_noglow(work: Path) -> dict[str, Any]:
    return datamap(work, glow=False)


def stage_evaluation(work: Path) -> dict[str, Any]:
    """05's ``evaluate_folder`` (NPMI over the corpus for every representation and the rest); NPMI timed apart."""
    import helpers.evaluation as evaluation

    spent = []
    plain = evaluation.npmi_per_topic

    def timed_npmi(*args, **kwargs):
        start = time.perf_counter()
        try:
            return plain(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - start)

    evaluation.npmi_per_topic = timed_npmi
    cached = set((work / "cache" / "embeddings").glob("*.npy"))
    result, _ = evaluation.evaluate_folder(work / "run", str(work / "cache"), npmi_top_n=10, diversity_top_n=25,
                                           coherence_stop_words="none")
    evaluation.write_json(work / "run" / evaluation.EVALUATION_FILE, result)
    npmi = {name: round(row["npmi"], 3) for name, row in result["representations"].items() if row.get("npmi") is not None}
    recomputed = bool(set((work / "cache" / "embeddings").glob("*.npy")) - cached)  # 03's embeddings not found
    return {"npmi_seconds": round(sum(spent), 1), "embeddings_recomputed": recomputed, "npmi": npmi, "nmi": round(result["run"].get("nmi") or 0, 3)}


def stage_hierarchy(work: Path) -> dict[str, Any]:
    """06's hierarchy cell on 03's topics: ``hierarchical_topics``, every inner node labelled by the LLM from
    :func:`helpers.refine.hierarchy_groups` (a node's centre and at most ``JUDGED_DOCS`` of its documents), drawn."""
    from collections import Counter

    from helpers.labeler._choice import JUDGED_DOCS
    from helpers.label_similarity import unit_rows
    from helpers.plots import save_html
    from helpers.refine import hierarchy_groups
    from helpers.topics import embed_documents
    from helpers.runs import load_results

    settings = settings_of(work)
    results = load_results(work / "run")
    model, documents, labels = results["topic_model"], results["documents"], results["labels"]
    abstracts, titles = documents.abstract.tolist(), documents.title.tolist()
    embeddings, reused = embed_documents(results["embedding_model"], settings.embedding_model, abstracts,
                                         work / "cache", show_progress_bar=False, precision=settings.precision,
                                         window=settings.embedding_max_tokens)
    assert reused, "the corpus stage placed the embeddings in the cache"
    llm = labeler(settings, embeddings, titles)
    llm.remember(labels, model.topics_)
    start = time.perf_counter()
    hierarchy = model.hierarchical_topics(abstracts)
    tree = time.perf_counter() - start
    groups = hierarchy_groups(hierarchy, llm.prompt, documents, unit_rows(embeddings), model.get_representative_docs(),
                              settings.nr_docs, settings.label_doc_words, seed=settings.seed)
    start = time.perf_counter()
    records = {r["topic"]: r for r in llm.label_groups(groups, model.embedding_model.embed)}
    labelled = time.perf_counter() - start
    hierarchy["Parent_Name"] = hierarchy.Parent_ID.map(lambda node: records[node]["label"])
    save_html(model.visualize_hierarchy(hierarchical_topics=hierarchy, custom_labels=True),
              work / "run" / "hierarchy_llm.html")
    return {"nodes": len(hierarchy), "hierarchical_topics_seconds": round(tree, 1),
            "node_labels_seconds": round(labelled, 1), "prompts": llm.generated_, "node_docs": JUDGED_DOCS,
            "nodes_over_node_docs": int(sum(documents.topic.isin(n.Topics).sum() > JUDGED_DOCS
                                            for n in hierarchy.itertuples())),
            "sources": dict(Counter(r["source"] for r in records.values()))}


STAGES: dict[str, tuple[str, Callable[[Path], dict[str, Any]]]] = {
    "corpus": ("build the corpus (not a notebook stage)", stage_corpus),
    "umap5": ("03 5-D UMAP", stage_umap5),
    "hdbscan": ("03 HDBSCAN (min_cluster_size 150)", stage_hdbscan),
    "umap2": ("03 2-D UMAP", stage_umap2),
    "ctfidf": ("03 c-TF-IDF (BERTopic fit)", stage_ctfidf),
    "keybert": ("03 KeyBERTInspired", stage_keybert),
    "mmr": ("03 MMR", stage_mmr),
    "llm": ("03 LLM labels, every topic", stage_llm),
    "save": ("03 save_results", stage_save),
    "documents_html": ("04 visualize_documents (HTML)", stage_documents_html),
    "browser": ("04 documents.html in Chromium", stage_browser),
    "datamapplot": ("04 datamapplot with its default glow (04 turns it off)", stage_datamapplot),
    "datamapplot_noglow": ("04 datamapplot as 04 draws it (add_glow=False)", stage_datamapplot_noglow),
    "evaluation": ("05 evaluation (NPMI and the rest)", stage_evaluation),
    "hierarchy": ("06 hierarchy with LLM labels", stage_hierarchy),
}


def watch_memory(name: str, work: Path, start: float, baseline: float, resettable: bool) -> None:
    """Stop this stage's process when its resident memory passes ``CAP_MB`` (from $SCALE_CAP_MB; none by default),
    recording how far it got: a stage that does not fit is measured without exhausting a shared machine."""
    import threading

    cap = float(os.environ.get("SCALE_CAP_MB", 0))
    if not cap:
        return

    def watch():
        while True:
            time.sleep(0.2)
            if status_mb("VmRSS") > cap:
                row = {"stage": STAGES[name][0], "seconds": round(time.perf_counter() - start, 2),
                       "peak_mb": round(status_mb("VmHWM")), "baseline_mb": round(baseline), "peak_reset": resettable,
                       "completed": False, "stopped_at_mb": cap}
                (work / f"stage-{name}.json").write_text(json.dumps(row))
                os._exit(3)

    threading.Thread(target=watch, daemon=True).start()


def run_stage(name: str, work: Path) -> dict[str, Any]:
    """One stage in this process: seconds, peak resident memory from after the imports, what the stage reports."""
    from helpers.machine import quiet_noisy_loggers

    quiet_noisy_loggers()
    import bertopic  # noqa: F401  (every stage's process holds what a notebook's kernel holds)

    resettable = reset_peak()  # then the baseline: read before the reset, memory freed in between left the peak
    baseline = status_mb("VmRSS")  # below it (2,695 MB against 2,696); VmHWM >= VmRSS from here on, within the
    # kernel's per-CPU counting (a batch of pages a CPU: tests/test_scale_benchmark.py allows for it)
    start = time.perf_counter()
    watch_memory(name, work, start, baseline, resettable)
    info = STAGES[name][1](work)
    seconds = time.perf_counter() - start
    return {"stage": STAGES[name][0], "seconds": round(seconds, 2), "peak_mb": round(status_mb("VmHWM")),
            "baseline_mb": round(baseline), "peak_reset": resettable, **info}


# ------------------------------------------------------------------------------------------------ parent
def stage_in_child(name: str, work: Path) -> dict[str, Any]:
    """``run_stage`` in a fresh Python process; its JSON back."""
    out = work / f"stage-{name}.json"
    out.unlink(missing_ok=True)
    command = [sys.executable, str(Path(__file__).resolve()), "--stage", name, "--work", str(work)]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                            env={**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
    if result.returncode == 3 and out.exists():  # stopped at the memory cap: recorded as such
        return json.loads(out.read_text())
    if result.returncode or not out.exists():
        raise SystemExit(f"stage {name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return json.loads(out.read_text())


class SharedLock:
    """A file lock (``flock``) other jobs on the machine share: taken before a stage, given back after the first
    stage that ends ``hold`` seconds or more after taking it, so other jobs run between stages. No path: no lock."""

    def __init__(self, path: str | None, hold: float = 300):
        self.file, self.hold, self.since = (open(path, "a") if path else None), hold, None

    def take(self) -> None:
        import fcntl

        if self.file and self.since is None:
            fcntl.flock(self.file, fcntl.LOCK_EX)
            self.since = time.monotonic()

    def maybe_give_back(self, force: bool = False) -> None:
        import fcntl

        if self.file and self.since is not None and (force or time.monotonic() - self.since >= self.hold):
            fcntl.flock(self.file, fcntl.LOCK_UN)
            self.since = None
            time.sleep(2)  # a job waiting for it gets it


def run_size(size: int, root: Path, stages: list[str], lock: SharedLock | None = None, articles: int | None = None,
             min_cluster_size: int = MIN_CLUSTER_SIZE, in_process: bool = False,
             results: Path | None = None) -> dict[str, Any]:
    """Every stage at ``size`` documents under ``root/size``, each in its own process unless ``in_process``;
    each stage's row recorded into ``results`` (JSON) as soon as it is measured, when given."""
    work = root / str(size)
    (work / "cache").mkdir(parents=True, exist_ok=True)
    (work / "config.json").write_text(json.dumps({"size": size, "articles": articles, "min_cluster_size": min_cluster_size,
                                                  "bank_cache": str(root / "bank-cache")}))
    lock = lock or SharedLock(None)
    rows = {}
    for name in stages:
        lock.take()
        rows[name] = run_stage(name, work) if in_process else stage_in_child(name, work)
        lock.maybe_give_back()
        if results:
            record(results, size, {name: rows[name]})
        print(f"{size:>7,} {STAGES[name][0]:<40s} {rows[name]['seconds']:>8.1f} s {rows[name]['peak_mb']:>7,} MB",
              flush=True)
    lock.maybe_give_back(force=True)
    return rows


def machine() -> dict[str, Any]:
    from helpers.machine import package_versions, resolve_precision

    memory = int(Path("/proc/meminfo").read_text().split()[1]) / 2**20
    return {"machine": f"{platform.machine()}, {os.cpu_count()} cores, {memory:.0f} GiB, no GPU",
            "precision": resolve_precision("auto"), "versions": package_versions()}


def record(path: Path, size: int, rows: dict[str, Any]) -> dict[str, Any]:
    """Merge one size's rows into the JSON at ``path`` (stages already there for that size are replaced)."""
    data = json.loads(path.read_text()) if path.exists() else {}
    data.update(machine())
    data.update(colab_mb=COLAB_MB, limit_mb=LIMIT_MB, min_cluster_size=MIN_CLUSTER_SIZE,
                corpus="BBC sentences recombined within storylines; embeddings = normalised mean of sentence embeddings")
    data.setdefault("sizes", {}).setdefault(str(size), {}).update(rows)
    data["sizes"][str(size)]["recorded"] = time.strftime("%Y-%m-%d %H:%M")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return data


def table(data: dict[str, Any]) -> str:
    """The markdown table of BENCHMARKS.md: stage x size, seconds and peak MB."""
    sizes = sorted(data["sizes"], key=int)
    head = "| stage | " + " | ".join(f"{int(s):,}: s | MB" for s in sizes) + " |"
    lines = [head, "|---|" + "---:|---:|" * len(sizes)]
    for name, (label, _) in STAGES.items():
        cells = []
        for size in sizes:
            row = data["sizes"][size].get(name)
            cells += [f"{row['seconds']:,.1f}", f"{row['peak_mb']:,}"] if row else ["", ""]
        if any(cells):
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def projection(data: dict[str, Any], targets: tuple[int, ...] = (1_000_000, 10_000_000)) -> str:
    """Each stage projected from its two largest measured sizes, on this machine's 2 cores, the same code (markdown):
    seconds as ``t * (N / n) ** b`` with b the measured exponent between them, peak MB as the larger peak plus the
    measured MB per document between them (what grows with the corpus on top of a fixed part)."""
    sizes = sorted(data["sizes"], key=int)[-2:]
    (small, big), rows = [int(s) for s in sizes], data["sizes"]
    lines = ["| stage | b (time ~ N^b) | MB per 1,000 docs | " + " | ".join(f"{t:,}: s | MB" for t in targets) + " |",
             "|---|---:|---:|" + "---:|---:|" * len(targets)]
    for name, (label, _) in STAGES.items():
        a, z = rows[sizes[0]].get(name), rows[sizes[1]].get(name)
        if not a or not z or name == "corpus":
            continue
        b = math.log(max(z["seconds"], 0.01) / max(a["seconds"], 0.01)) / math.log(big / small)
        per_doc = max(0.0, (z["peak_mb"] - a["peak_mb"]) / (big - small))
        cells = []
        for target in targets:
            cells += [f"{z['seconds'] * (target / big) ** b:,.0f}", f"{z['peak_mb'] + per_doc * (target - big):,.0f}"]
        lines.append(f"| {label} | {b:.2f} | {per_doc * 1000:.1f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--stages", nargs="+", default=list(STAGES), choices=list(STAGES))
    parser.add_argument("--work", type=Path, default=Path("/tmp/scale-benchmark"), help="intermediate files go here")
    parser.add_argument("--json", type=Path, default=RESULTS)
    parser.add_argument("--lock", default=None, help="a lock file (flock) shared with other jobs: taken for the stages, "
                        "given back between stages every --hold seconds")
    parser.add_argument("--hold", type=float, default=300)
    parser.add_argument("--articles", type=int, default=None, help="build from a sample of this many BBC articles")
    parser.add_argument("--min-cluster-size", type=int, default=MIN_CLUSTER_SIZE)
    parser.add_argument("--in-process", action="store_true", help="every stage in this process (a quick check; "
                        "each peak then counts what earlier stages left behind)")
    parser.add_argument("--stage", choices=list(STAGES), help=argparse.SUPPRESS)  # a child: one stage, in --work
    parser.add_argument("--table", action="store_true", help="print the recorded table and stop")
    args = parser.parse_args()
    if args.stage:
        (args.work / f"stage-{args.stage}.json").write_text(json.dumps(run_stage(args.stage, args.work)))
        return
    if args.table:
        data = json.loads(args.json.read_text())
        print(table(data), "", projection(data) if len(data["sizes"]) > 1 else "", sep="\n")
        return
    for size in args.sizes:
        run_size(size, args.work, args.stages, SharedLock(args.lock, args.hold), args.articles, args.min_cluster_size,
                 args.in_process, args.json)
    print(table(json.loads(args.json.read_text())))


if __name__ == "__main__":
    main()
