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

    cell = run_cell("01_quantized_loading.ipynb", "teach:bnb-config", torch=torch)
    assert isinstance(cell["bnb_config"], BitsAndBytesConfig)
    assert cell["bnb_config"].to_dict() == quantization_config("nf4").to_dict()
    assert cell["bnb_config"].bnb_4bit_quant_type == "nf4" and cell["bnb_config"].bnb_4bit_use_double_quant


def test_notebook_01_loads_the_model_as_load_llm_does(small_llm):
    from transformers import BitsAndBytesConfig

    from helpers.llm import explained_loading_errors, footprint_mb, make_generator, model_path, preflight, quantization_config

    settings = resolve_settings("offline")
    cell = run_cell(
        "01_quantized_loading.ipynb", "teach:load", model_id=settings.llm_model, settings=settings,
        bnb_config=quantization_config("nf4"), BitsAndBytesConfig=BitsAndBytesConfig, model_path=model_path,
        explained_loading_errors=explained_loading_errors, footprint_mb=footprint_mb, preflight=preflight,
    )
    tokenizer, model, generator = small_llm  # helpers.llm.load_llm + make_generator
    assert cell["model"].config.to_dict() == model.config.to_dict()
    assert cell["model"].dtype == model.dtype and not cell["model"].training
    assert cell["generator"]._generate_kwargs == make_generator(model, tokenizer)._generate_kwargs
    assert cell["generator"]._generate_kwargs == dict(do_sample=True, temperature=0.1, max_new_tokens=500,
                                                      repetition_penalty=1.1)
    assert set(cell["configs"]) == {"nf4", "int8", "none"}


def test_notebook_02_writes_the_reference_prompt_that_build_prompt_returns(small_llm):
    from helpers.prompts import build_prompt, chat_messages, is_llama2

    cell = run_cell("02_prompt_engineering.ipynb", "teach:prompt")
    assert cell["prompt"] == build_prompt(LLAMA2)
    assert "[DOCUMENTS]" in cell["main_prompt"] and "[KEYWORDS]" in cell["main_prompt"]
    literal = cell["prompt"]
    for model_id, tokenizer in ((LLAMA2, None), (OFFLINE_LLM, small_llm[0])):
        chat = run_cell("02_prompt_engineering.ipynb", "teach:chat-prompt", prompt=literal, tokenizer=tokenizer,
                        settings=resolve_settings("offline", llm_model=model_id), chat_messages=chat_messages,
                        is_llama2=is_llama2)
        assert chat["prompt"] == build_prompt(model_id, tokenizer)
    assert "<|im_start|>system" in chat["prompt"], "the offline model gets its own chat template"


def test_notebook_03_writes_the_reference_sub_models():
    namespace = run_cell("03_topic_modeling.ipynb", "teach:submodels", settings=resolve_settings("colab-t4"),
                         abstracts=["doc"] * 117_000, fit_min_cluster_size=__import__("helpers.topics").topics.fit_min_cluster_size)
    umap, hdbscan = namespace["umap_model"].get_params(), namespace["hdbscan_model"].get_params()
    assert {k: umap[k] for k in ("n_neighbors", "n_components", "min_dist", "metric", "random_state")} == dict(
        n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=42)
    assert {k: hdbscan[k] for k in ("min_cluster_size", "metric", "cluster_selection_method", "prediction_data")} == dict(
        min_cluster_size=150, metric="euclidean", cluster_selection_method="eom", prediction_data=True)
    assert "n_components=2" in cell_source("03_topic_modeling.ipynb", "teach:reduce-2d")


def test_use_cuml_without_cuml_says_so_and_keeps_the_cpu_models(capsys):
    import hdbscan
    import umap

    namespace = run_cell("03_topic_modeling.ipynb", "teach:submodels", settings=resolve_settings("offline", use_cuml=True),
                         abstracts=["doc"] * 500, fit_min_cluster_size=__import__("helpers.topics").topics.fit_min_cluster_size)
    assert "cuML is not importable here" in capsys.readouterr().out
    assert isinstance(namespace["umap_model"], umap.UMAP) and isinstance(namespace["hdbscan_model"], hdbscan.HDBSCAN)


@pytest.mark.parametrize("method", ["batched", "reference"])
def test_notebook_03_builds_the_llm_representation_llm_representation_returns(method, small_llm):
    from helpers.batched_generation import BatchedTextGeneration, llm_representation
    from helpers.machine import default_cache_dir
    from helpers.prompts import build_keyword_prompt, build_prompt

    settings = resolve_settings("offline", label_method=method, label_candidates=3)
    tokenizer, _, generator = small_llm
    embeddings, titles = np.zeros((4, 3)), ["a", "b", "c", "d"]
    prompt = build_prompt(OFFLINE_LLM, tokenizer)
    cell = run_cell("03_topic_modeling.ipynb", "teach:representations", settings=settings, generator=generator,
                    prompt=prompt, tokenizer=tokenizer, embeddings=embeddings, titles=titles,
                    BatchedTextGeneration=BatchedTextGeneration, build_keyword_prompt=build_keyword_prompt,
                    cache=default_cache_dir(settings.cache_dir))
    helper = llm_representation(settings, generator, prompt, build_keyword_prompt(OFFLINE_LLM, tokenizer),
                                embeddings, titles)
    assert type(cell["llm"]) is type(helper)
    assert vars(cell["llm"]).keys() == vars(helper).keys()
    for key, value in vars(helper).items():
        assert cell["llm"].__dict__[key] is value or cell["llm"].__dict__[key] == value, key
    assert list(cell["representation_model"]) == ["KeyBERT", "LLM", "MMR"]
    assert cell["mmr_model"].diversity == 0.3


def test_notebook_03_caches_embeddings_where_the_evaluation_reads_them(tmp_path):
    from helpers.data import truncation_note
    from helpers.machine import torch_dtype
    from helpers.topics import cached_array, embed_documents, embedding_model_path, embeddings_path, load_embedding_model

    settings = resolve_settings("offline")
    docs = ["Shares rose after the results.", "The striker scored twice.", "A new phone was launched."]
    cell = run_cell("03_topic_modeling.ipynb", "teach:embed", settings=settings, abstracts=docs, cache=tmp_path,
                    cached_array=cached_array, embeddings_path=embeddings_path, embedding_model_path=embedding_model_path,
                    truncation_note=truncation_note, torch_dtype=torch_dtype)
    assert not cell["reused"] and cell["embeddings"].shape == (3, 384)
    again, reused = embed_documents(load_embedding_model(settings.embedding_model, settings.precision),
                                    settings.embedding_model, docs, tmp_path, precision=settings.precision)
    assert reused and np.array_equal(again, cell["embeddings"])
    assert cell["sentence_model"].dtype == torch_dtype(settings.precision)
    # another precision is another cache entry: fp32 vectors are never mistaken for bf16 ones, nor the reverse
    from helpers.machine import resolve_precision

    other = "bf16" if resolve_precision(settings.precision) == "fp32" else "fp32"
    vectors, reused = embed_documents(load_embedding_model(settings.embedding_model, other), settings.embedding_model,
                                      docs, tmp_path, show_progress_bar=False, precision=other)
    assert not reused and not np.array_equal(vectors, cell["embeddings"])


def test_notebook_06_builds_the_labeler_03_builds(small_llm):
    """06 asks again only for changed topics with the same labeler 03 labelled them with: same settings, prompt,
    keyword prompt, answer cache, documents per prompt (issue 25: its copy of the setup was tied to nothing)."""
    from types import SimpleNamespace

    import pandas as pd
    from sklearn.feature_extraction.text import CountVectorizer

    from helpers.batched_generation import BatchedTextGeneration, llm_representation
    from helpers.machine import default_cache_dir
    from helpers.prompts import build_keyword_prompt, build_prompt

    settings = resolve_settings("offline", label_candidates=3, label_batch_size=5)
    tokenizer, _, generator = small_llm
    embeddings, titles = np.zeros((4, 3)), ["a", "b", "c", "d"]
    labels = pd.DataFrame({"topic": [0], "label": ["Shares"], "source": ["llm"], "fallback": [False],
                           "confidence": [1.0], "raw": ["Shares"], "reference_label": ["Shares"], "llm_failures": [""]})
    cell = run_cell("06_refining_topics.ipynb", "labeler", settings=settings, embeddings=embeddings, titles=titles,
                    cache=default_cache_dir(settings.cache_dir), labels=labels, original_topics=[0, 0, 0, 0],
                    topic_model=SimpleNamespace(), open_labeler=lambda s: (generator, tokenizer),
                    BatchedTextGeneration=BatchedTextGeneration, build_prompt=build_prompt,
                    build_keyword_prompt=build_keyword_prompt, CountVectorizer=CountVectorizer)
    helper = llm_representation(settings, generator, build_prompt(OFFLINE_LLM, tokenizer),
                                build_keyword_prompt(OFFLINE_LLM, tokenizer), embeddings, titles)
    made = vars(cell["llm"])
    assert made.keys() == vars(helper).keys()
    for key, value in vars(helper).items():
        if key != "records_":  # 06's holds 03's labels, remembered
            assert made[key] is value or made[key] == value, key
    assert [r["label"] for r in made["records_"]] == ["Shares"]
