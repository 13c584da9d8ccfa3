"""The reference's code is written out in the notebooks; the helpers the later notebooks call hold
the same code. Each test runs the notebook's own cell and compares it with its helper."""

import numpy as np
import pytest
from cells import cell_source, run_cell

from helpers.settings import resolve_settings

OFFLINE_LLM = "packaged:SmolLM2-135M-Instruct"
LLAMA2 = "meta-llama/Llama-2-13b-chat-hf"


def test_notebook_01_writes_the_reference_bnb_config_that_load_llm_uses():
    import torch
    from transformers import BitsAndBytesConfig

    from helpers.llm import quantization_config

    cell = run_cell("01_quantized_loading.ipynb", "teach:bnb-config")
    assert isinstance(cell["bnb_config"], BitsAndBytesConfig)
    assert cell["bnb_config"].to_dict() == quantization_config("nf4").to_dict()
    assert cell["bnb_config"].bnb_4bit_quant_type == "nf4" and cell["bnb_config"].bnb_4bit_use_double_quant


def test_notebook_01_loads_the_model_as_load_llm_does(small_llm):
    from helpers.llm import make_generator

    settings = resolve_settings("offline")
    cell = {"settings": settings}
    for tag in ("teach:device", "ours:model-path", "teach:bnb-config", "ours:compute-dtype", "teach:load"):
        cell = run_cell("01_quantized_loading.ipynb", tag, cell)
    tokenizer, model, generator = small_llm  # helpers.llm.load_llm + make_generator
    assert cell["model_id"] != settings.llm_model, "the packaged model's folder, not its name"
    assert cell["model"].config.to_dict() == model.config.to_dict()
    assert cell["model"].dtype == model.dtype and not cell["model"].training
    assert cell["generator"]._generate_kwargs == make_generator(model, tokenizer)._generate_kwargs
    assert cell["generator"]._generate_kwargs == dict(do_sample=True, temperature=0.1, max_new_tokens=500,
                                                      repetition_penalty=1.1)
    assert cell["quantization_config"] is None, "offline loads full precision"


def test_notebook_02_writes_the_reference_prompt_that_build_prompt_returns(small_llm):
    from helpers.prompts import REFERENCE, build_prompt, chat_messages, parts_of_llama2_prompt

    cell = run_cell("02_prompt_engineering.ipynb", "teach:prompt")
    assert cell["prompt"] == build_prompt(LLAMA2)
    assert "[DOCUMENTS]" in cell["main_prompt"] and "[KEYWORDS]" in cell["main_prompt"]
    literal = cell["prompt"]
    for model_id, tokenizer in ((LLAMA2, None), (OFFLINE_LLM, small_llm[0])):
        chat = run_cell("02_prompt_engineering.ipynb", "teach:chat-prompt", dict(cell), tokenizer=tokenizer,
                        settings=resolve_settings("offline", llm_model=model_id), chat_messages=chat_messages,
                        build_prompt=build_prompt, parts_of_llama2_prompt=parts_of_llama2_prompt)
        assert chat["parts"] == REFERENCE, "02's three strings are the reference's parts"
        assert chat["prompt"] == build_prompt(model_id, tokenizer)
    assert "<|im_start|>system" in chat["prompt"], "the offline model gets its own chat template"


def test_notebook_03_writes_the_reference_sub_models():
    namespace = run_cell("03_topic_modeling.ipynb", "teach:submodels", settings=resolve_settings("colab-t4"))
    umap, hdbscan = namespace["umap_model"].get_params(), namespace["hdbscan_model"].get_params()
    assert {k: umap[k] for k in ("n_neighbors", "n_components", "min_dist", "metric", "random_state")} == dict(
        n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=42)
    assert {k: hdbscan[k] for k in ("min_cluster_size", "metric", "cluster_selection_method", "prediction_data")} == dict(
        min_cluster_size=150, metric="euclidean", cluster_selection_method="eom", prediction_data=True)
    assert "n_components=2" in cell_source("03_topic_modeling.ipynb", "teach:reduce-2d")


def test_use_cuml_without_cuml_says_so_and_keeps_the_cpu_models(capsys):
    import hdbscan
    import umap

    namespace = run_cell("03_topic_modeling.ipynb", "teach:submodels",
                         settings=resolve_settings("offline", use_cuml=True, min_cluster_size=20))
    namespace = run_cell("03_topic_modeling.ipynb", "ours:cuml", namespace)
    assert "cuML is not importable here" in capsys.readouterr().out
    assert isinstance(namespace["umap_model"], umap.UMAP) and isinstance(namespace["hdbscan_model"], hdbscan.HDBSCAN)


@pytest.mark.parametrize("method", ["batched", "reference"])
def test_notebook_03_builds_the_llm_representation_the_method_names(method, small_llm):
    from bertopic.representation import TextGeneration

    from helpers.labeler import BatchedTextGeneration
    from helpers.prompts import REFERENCE, build_keyword_prompt, build_prompt

    settings = resolve_settings("offline", label_method=method, label_candidates=3)
    tokenizer, _, generator = small_llm
    prompt = build_prompt(OFFLINE_LLM, tokenizer)
    cell = run_cell("03_topic_modeling.ipynb", "teach:representations", settings=settings, generator=generator,
                    prompt=prompt, tokenizer=tokenizer, embeddings=np.zeros((4, 3)), titles=["a", "b", "c", "d"],
                    build_keyword_prompt=build_keyword_prompt, parts=REFERENCE)
    assert type(cell["llm"]) is {"batched": BatchedTextGeneration, "reference": TextGeneration}[method]
    assert cell["llm"].prompt == prompt and cell["llm"].nr_docs == settings.nr_docs
    assert list(cell["representation_model"]) == ["KeyBERT", "LLM", "MMR"]
    assert cell["mmr_model"].diversity == 0.3
    stopped = set(cell["vectorizer_model"].stop_words)  # scikit-learn's English list and news' house words
    assert {"the", "to", "in", "said", "mr"} <= stopped and "labour" not in stopped
    assert cell["ctfidf_model"].reduce_frequent_words is True


def test_notebook_03_caches_embeddings_where_the_evaluation_reads_them(tmp_path):
    from helpers.machine import resolve_precision, torch_dtype
    from helpers.topics import cached_embeddings, load_embedding_model

    settings = resolve_settings("offline", cache_dir=str(tmp_path))
    docs = ["Shares rose after the results.", "The striker scored twice.", "A new phone was launched."]
    cell = run_cell("03_topic_modeling.ipynb", "teach:embed", settings=settings, abstracts=docs)
    assert "(computed and cached)" in cell["note"] and cell["embeddings"].shape == (3, 384)
    assert cell["sentence_model"].dtype == torch_dtype(settings.precision)
    again, note = cached_embeddings(load_embedding_model(settings.embedding_model, settings.precision), settings, docs)
    assert "(reused from the cache)" in note and np.array_equal(again, cell["embeddings"])
    # another precision is another cache entry: fp32 vectors are never mistaken for bf16 ones, nor the reverse
    other = "bf16" if resolve_precision(settings.precision) == "fp32" else "fp32"
    vectors, note = cached_embeddings(load_embedding_model(settings.embedding_model, other),
                                      resolve_settings("offline", cache_dir=str(tmp_path), precision=other), docs)
    assert "(computed and cached)" in note and not np.array_equal(vectors, cell["embeddings"])


def test_notebook_06_builds_the_labeler_03_builds(small_llm):
    """06 asks again only for changed topics with the same labeler 03 labelled them with: same settings, prompt,
    keyword prompt, answer cache, documents per prompt (issue 25: its copy of the setup was tied to nothing)."""
    from types import SimpleNamespace

    import pandas as pd

    from helpers.labels import llm_representation
    from helpers.prompts import REFERENCE, build_keyword_prompt, build_prompt

    settings = resolve_settings("offline", label_candidates=3, label_batch_size=5)
    tokenizer, _, generator = small_llm
    embeddings, titles = np.zeros((4, 3)), ["a", "b", "c", "d"]
    labels = pd.DataFrame({"topic": [0], "label": ["Shares"], "source": ["llm"], "fallback": [False],
                           "confidence": [1.0], "raw": ["Shares"], "reference_label": ["Shares"], "llm_failures": [""]})
    cell = run_cell("06_refining_topics.ipynb", "labeler", settings=settings, embeddings=embeddings, titles=titles,
                    labels=labels, original_topics=[0, 0, 0, 0],
                    topic_model=SimpleNamespace(), generator=generator, tokenizer=tokenizer, parts=REFERENCE)
    helper = llm_representation(settings, generator, build_prompt(OFFLINE_LLM, tokenizer),
                                build_keyword_prompt(OFFLINE_LLM, tokenizer), embeddings, titles)
    made = vars(cell["llm"])
    assert made.keys() == vars(helper).keys()
    for key, value in vars(helper).items():
        if key != "records_":  # 06's holds 03's labels, remembered
            assert made[key] is value or made[key] == value, key
    assert [r["label"] for r in made["records_"]] == ["Shares"]


def test_an_edited_string_of_02_is_the_prompt_02_and_its_chat_template_use(small_llm):
    from helpers.prompts import build_prompt, chat_messages, edited_parts, parts_of_llama2_prompt

    cell = run_cell("02_prompt_engineering.ipynb", "teach:prompt")
    cell["system_prompt"] = cell["system_prompt"].replace("helpful, respectful and honest", "terse")
    chat = run_cell("02_prompt_engineering.ipynb", "teach:chat-prompt", dict(cell), tokenizer=small_llm[0],
                    settings=resolve_settings("offline"), chat_messages=chat_messages, build_prompt=build_prompt,
                    parts_of_llama2_prompt=parts_of_llama2_prompt)
    assert edited_parts(chat["parts"]) == ["system"]
    assert "You are a terse assistant for labeling topics." in chat["prompt"]
    assert chat["prompt"] == build_prompt(OFFLINE_LLM, small_llm[0], chat["parts"])


def test_notebook_03_reads_the_labels_as_the_reference_does():
    source = cell_source("03_topic_modeling.ipynb", "teach:reference-labels")
    assert 'llama2_labels = [label[0][0].split("\\n")[0] for label in topic_model.get_topics(full=True)["LLM"].values()]' in source
    assert "topic_model.set_topic_labels(llama2_labels)" in source


def test_notebook_03s_short_batched_labeler_answers_as_the_full_one_does(small_llm):
    from helpers.labeler import BatchedTextGeneration
    from helpers.prompts import build_prompt, fill_prompt

    tokenizer, _, generator = small_llm
    topics = {"economy": ["Shares fell as the bank warned on profit.", "Stock markets rose on a rate cut."],
              "film": ["The film won the Oscar for best actor.", "The actress starred in a new film."],
              "tennis": ["She won the Wimbledon final in three sets."]}
    prompts = [fill_prompt(build_prompt(OFFLINE_LLM, tokenizer), docs, topic.split()) for topic, docs in topics.items()]
    short = run_cell("03_topic_modeling.ipynb", "teach:batched-labels")["batched_greedy_labels"]
    full = BatchedTextGeneration(generator, "[KEYWORDS]", batch_size=8, max_new_tokens=16, show_progress=False)
    expected = [answers[0].strip().split("\n")[0].strip() for answers in full.generate(prompts)]
    assert short(generator, prompts, batch_size=8, max_new_tokens=16) == expected
    assert all(expected), "the model answered every prompt"


# ---- notebooks 05 and 06: our own measures and how a label is kept, written out (issue 26) -----------------
TOPIC_WORDS = [["shares", "bank", "profit", "market", "rate"], ["film", "actor", "oscar", "award", "star"],
               ["match", "goal", "team", "cup", "win"], ["bank", "rate", "film", "goal", "tax"]]
TEXTS = ["Shares fell as the bank warned on profit and the market waited for a rate cut.",
         "The film won the Oscar award; its actor is a star.", "The team scored a late goal to win the cup match.",
         "The bank raised its rate and the market fell.", "The star actor of the film thanked the award jury.",
         "A goal in the cup final made the team win the match.", "Tax on profit hit the bank and its shares."] * 3


def test_notebook_05s_diversity_is_topic_diversity():
    from helpers.measures import topic_diversity

    taught = run_cell("05_evaluation.ipynb", "teach:diversity", keywords={0: ["a"]}, diversity_top_n=1)["topic_diversity"]
    for top_n in (1, 3, 5, 25):
        assert taught(TOPIC_WORDS, top_n) == topic_diversity(TOPIC_WORDS, top_n)
    assert taught(TOPIC_WORDS, 5) == 16 / 20, "the words that repeat (bank, rate, film, goal) count once"


def test_notebook_05s_npmi_is_the_gensim_call_npmi_per_topic_makes():
    from helpers.measures import npmi_per_topic, tokenize

    cell = run_cell("05_evaluation.ipynb", "teach:npmi", np=np, documents=__import__("pandas").DataFrame(
        {"abstract": TEXTS}), keywords=dict(enumerate(TOPIC_WORDS)), npmi_top_n=5, coherence_stop_words="none")
    for top_n in (3, 5):
        tokens = tokenize(TEXTS)
        assert cell["npmi_per_topic"](TOPIC_WORDS, tokens, top_n) == pytest.approx(npmi_per_topic(TOPIC_WORDS, tokens, top_n))
    assert cell["npmi"] == pytest.approx(npmi_per_topic(TOPIC_WORDS, tokenize(TEXTS), 5))
    assert cell["npmi"][0] > cell["npmi"][3], "words that occur together score above a mixed bag"
    assert cell["tokenize"](TEXTS, "english") == tokenize(TEXTS, "english") and cell["tokens"] == tokenize(TEXTS)


def test_notebook_05s_faithfulness_is_the_helpers():
    import pandas as pd

    from helpers.measures import faithfulness
    from helpers.topics import load_embedding_model

    settings = resolve_settings("offline")
    model = load_embedding_model(settings.embedding_model, settings.precision)  # the offline run's embedding model
    documents = pd.DataFrame({"topic": [0, 1, 2, 0, 1, 2, -1] * 3})  # TEXTS: markets, films, football, tax (outliers)
    labels = pd.DataFrame({"topic": [-1, 0, 1, 2], "label": ["Outliers", "Banks and markets", "Film awards", "Football"]})
    embeddings = model.encode(TEXTS, show_progress_bar=False)
    cell = run_cell("05_evaluation.ipynb", "teach:faithfulness", np=np, keywords={0: [], 1: [], 2: []},
                    labels=labels, documents=documents, embeddings=embeddings, embedding_model=model)
    centroids = np.array([embeddings[documents.topic == t].mean(axis=0) for t in (0, 1, 2)])
    assert np.allclose(cell["centroids"], centroids), "each topic's mean document, outliers left out"
    expected = {k: v for k, v in faithfulness(cell["label_vectors"], centroids).items() if k != "per_topic"}
    taught = cell["faithfulness"](cell["label_vectors"], cell["centroids"])
    assert taught == pytest.approx(expected)
    assert taught["faithfulness_gap"] > 0.1, "each label is closer to its own topic than to the others"


@pytest.mark.parametrize("before, after, fates", [
    ([0, 0, 1, 1, 2, 2, -1], [0, 0, 1, 1, 2, 2, -1], {0: "kept", 1: "kept", 2: "kept"}),  # nothing changed
    ([0, 0, 1, 1, 2, 2, -1], [0, 0, 0, 0, 1, 1, -1], {0: "new", 1: "kept"}),  # 0 and 1 merged; 2 (now 1) kept
    ([0, 0, 1, 1, 2, 2, -1], [0, 0, 1, 1, 2, 2, 2], {0: "kept", 1: "kept", 2: "asked again"}),  # 2 took the outlier
    ([0, 0, 0, 1, 1, 1, -1, -1], [0, 0, 1, 1, 1, 1, 0, 0], {0: "asked again", 1: "asked again"}),  # moved both ways
    ([0, 0, 1, 1, 2, 2, 3, 3], [0, 0, 0, 1, 1, 1, 1, 1], {0: "asked again", 1: "new"}),  # 0 took most of 1; 2+3 merged
])
def test_notebook_06s_label_fate_names_each_case(before, after, fates):
    taught = run_cell("06_refining_topics.ipynb", "teach:label-fate", np=np)
    assert taught["label_fate"](before, after) == fates
    said = {"kept": [t for t, f in fates.items() if f == "kept"], "regenerated": [t for t, f in fates.items()
            if f == "asked again"], "new": [t for t, f in fates.items() if f == "new"] + [-1]}
    assert taught["labeler_fates"](said) == fates, "the labeler's own record, in the same words (-1 left out)"