"""The T4 path fits a T4, proven without one: the memory preflight's verdicts, checked against
the offline model's measured footprint, one model in memory at a time, and float16 on a T4."""

import gc
import weakref

import pytest
from cells import cell_source, run_cell

from helpers.llm import preflight
from helpers.memory import memory_estimate, model_shape
from helpers.settings import resolve_settings

T4 = 15.0e9  # a free Colab T4: 15 GB, nothing else on it


@pytest.fixture(params=[True, False], ids=["host-bf16", "host-fp32"])
def host_precision(request, monkeypatch):
    """Every verdict below is about a T4: it must not change with what this machine computes natively."""
    import torch

    import helpers.machine

    monkeypatch.setattr(helpers.machine, "torch_computes_bf16", lambda cpuinfo=None: request.param)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # a GPU machine runs these the same way


def test_13b_in_nf4_fits_a_t4_with_room_to_generate(host_precision):
    """One prompt as long as Llama-2's window (whole documents: issue 37, item 7) and room to spare."""
    line = preflight(resolve_settings("colab-t4", label_batch_size=1), T4, "a T4", disk_free=100e9)
    assert line.startswith("meta-llama/Llama-2-13b-chat-hf (nf4, 13.02B parameters) needs about 11.9 GB: 7.2 GB weights")
    assert "a T4 has 15.0 GB free" in line
    estimate = memory_estimate(model_shape("meta-llama/Llama-2-13b-chat-hf"), "nf4", batch=1, prompt_tokens=4072)
    assert T4 - estimate["total"] > 3e9, "room left over"


def test_13b_in_fp16_does_not_fit_and_the_message_says_what_to_change(host_precision):
    with pytest.raises(MemoryError, match=r"Will not fit: .*\(none, 13.02B parameters\) needs about 3\d.\d GB: 26.0 GB "
                                          r"weights.* a T4 has 15.0 GB free. To fit, use quantization = 'nf4', a smaller "
                                          r"model"):
        preflight(resolve_settings("colab-t4", quantization="none"), T4, "a T4")


def test_two_13b_models_in_nf4_do_not_fit_a_t4(host_precision):
    with pytest.raises(MemoryError, match=r"14.4 GB weights \(2 copies\).*free the first model before loading the next"):
        preflight(resolve_settings("colab-t4", label_batch_size=1), T4, "a T4", copies=2)


def test_a_batch_too_large_for_a_t4_gets_the_batch_that_fits(host_precision):
    with pytest.raises(MemoryError, match=r"KV cache for 8 prompts of up to 4072 tokens.* To fit, set label_batch_size to 1"):
        preflight(resolve_settings("colab-t4", label_batch_size=8), T4, "a T4")
    with pytest.raises(MemoryError, match=r"KV cache for 8 prompts of about 955 tokens.* To fit, set label_batch_size to 4"):
        preflight(resolve_settings("colab-t4", label_batch_size=8, label_doc_words=100), T4, "a T4")


def test_the_download_is_checked_against_the_disk_first(host_precision):
    settings = resolve_settings("colab-t4", label_batch_size=1)
    assert "First it downloads about 26.0 GB (100 GB free on disk)." in preflight(settings, T4, "a T4", disk_free=100e9)
    with pytest.raises(OSError, match=r"Downloading meta-llama/Llama-2-13b-chat-hf needs about 26.0 GB of disk and .* "
                                      r"has 20.0 GB free: free some space, or set HF_HOME"):
        preflight(settings, T4, "a T4", disk_free=20e9)
    assert "downloads" not in preflight(resolve_settings("offline"), 2e9, disk_free=1.0), "the packaged model is here"


def test_a_t4_estimate_is_made_for_the_t4_whatever_computes_it(host_precision):
    settings = resolve_settings("colab-t4", quantization="none")
    with pytest.raises(MemoryError, match=r"26.0 GB weights.* a Tesla T4 has 15.8 GB free"):
        preflight(settings, gpu="T4")  # a T4 loads full precision in float16, never in this host's fp32
    with pytest.raises(MemoryError, match=r"26.0 GB weights"):
        preflight(settings)  # the profile's own GPU where none is visible
    assert preflight(resolve_settings("colab-t4"), disk_free=100e9) == preflight(resolve_settings("colab-t4"), gpu="T4",
                                                                                 disk_free=100e9)


def test_7b_and_the_offline_model_fit(host_precision):
    assert "6.74B parameters" in preflight(resolve_settings("colab-t4", llm_model="meta-llama/Llama-2-7b-chat-hf"), T4,
                                           disk_free=100e9)
    assert "0.13B parameters" in preflight(resolve_settings("offline"), 2e9, "a 2 GB laptop")


@pytest.mark.parametrize("quantization", ["none", "int8", "nf4"])
def test_the_estimate_matches_the_offline_models_measured_footprint(quantization):
    from helpers.llm import load_llm

    _, model = load_llm("packaged:SmolLM2-135M-Instruct", quantization)
    estimate = memory_estimate(model_shape("packaged:SmolLM2-135M-Instruct"), quantization)
    assert estimate["parameters"] == sum(p.numel() for p in model.parameters()) or quantization == "nf4"
    # get_memory_footprint counts nf4's packed weights, not its block constants (3% of them): within 5%
    assert estimate["weights"] == pytest.approx(model.get_memory_footprint(), rel=0.05)


def _run_01_loading_comparison_and_exercise(settings) -> list[int]:
    """Notebook 01's section 2 (loading), 4 (comparison) and exercise 2's solution, as written, with every
    ``from_pretrained`` of a causal LM counted: returns how many chat models were alive at each load."""
    import time

    import nbformat
    import pandas as pd
    import torch
    import transformers
    from cells import NOTEBOOKS

    import helpers.llm

    alive_at_load, original = [], transformers.AutoModelForCausalLM.from_pretrained.__func__
    models = []

    def counted(cls, *args, **kwargs):
        gc.collect()
        alive_at_load.append(sum(ref() is not None for ref in models))
        model = original(cls, *args, **kwargs)
        models.append(weakref.ref(model))
        return model

    namespace = dict(settings=settings)
    solution = next(c.source for c in nbformat.read(NOTEBOOKS / "01_quantized_loading.ipynb", as_version=4).cells
                    if "solution" in c.metadata.get("tags", []) and "famous bridges" in c.source)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", classmethod(counted))
        for tag in ("teach:device", "ours:model-path", "teach:bnb-config", "ours:compute-dtype", "teach:load",
                    "teach:compare"):
            run_cell("01_quantized_loading.ipynb", tag, namespace)
        exec(compile(solution, "01[exercise 2]", "exec"), namespace)
    assert len(namespace["comparison"]) == len(settings.compare_quantizations.split(","))
    return alive_at_load


def test_notebook_01_loads_the_t4s_model_once_across_loading_comparison_and_exercises(no_gpu):
    """colab-t4 compares only nf4, the quantization it loads: section 2's model serves all three. The 135M model
    at full precision stands in for the 13B one in nf4 (the same code path: the comparison lists only the
    quantization loaded; nf4 generation on a CPU takes minutes)."""
    settings = resolve_settings("offline", quantization="none", compare_quantizations="none", sanity_max_new_tokens=8)
    assert resolve_settings("colab-t4").compare_quantizations == resolve_settings("colab-t4").quantization
    assert _run_01_loading_comparison_and_exercise(settings) == [0], "one load, with nothing else alive"


def test_notebook_01_frees_each_model_before_loading_the_next(no_gpu):
    """Offline compares three quantizations of the 135M model: never two models in memory at once."""
    settings = resolve_settings("offline", sanity_max_new_tokens=8)
    alive = _run_01_loading_comparison_and_exercise(settings)
    assert alive == [0, 0, 0, 0], "section 2, the two other quantizations, the exercise's reload: each alone"


def test_notebook_03_loads_one_llm():
    import nbformat

    from cells import NOTEBOOKS

    code = "\n".join(c.source for c in nbformat.read(NOTEBOOKS / "03_topic_modeling.ipynb", as_version=4).cells
                     if c.cell_type == "code")
    assert code.count("open_labeler(") == 1 and "load_llm(" not in code and "from_pretrained(" not in code
    import ast
    import inspect

    from helpers.open_llm import open_labeler

    assert inspect.getsource(open_labeler).count("load_llm(") == 1, "and open_labeler loads it once"

    def inside_a_loop(node, parents=()):  # is the open_labeler call under a for or while?
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "open_labeler":
            return any(isinstance(p, (ast.For, ast.While, ast.comprehension)) for p in parents)
        return any(inside_a_loop(child, (*parents, node)) for child in ast.iter_child_nodes(node))

    assert not inside_a_loop(ast.parse(code)), "not in a loop"


def test_a_t4_computes_nf4_in_float16(monkeypatch):
    import torch

    from helpers.llm import quantization_config

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    def computed_in():
        cell = run_cell("01_quantized_loading.ipynb", "teach:bnb-config", settings=resolve_settings("offline"))
        return run_cell("01_quantized_loading.ipynb", "ours:compute-dtype", cell)["bnb_config"].bnb_4bit_compute_dtype

    assert computed_in() == torch.float16
    assert quantization_config("nf4").bnb_4bit_compute_dtype == torch.float16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)  # an A100, an H100
    assert computed_in() == torch.bfloat16 == quantization_config("nf4").bnb_4bit_compute_dtype
    assert "a T4 (compute capability 7.5) has no native bfloat16" in cell_source("01_quantized_loading.ipynb",
                                                                                   "ours:compute-dtype")


def test_the_kv_cache_estimate_is_what_the_offline_model_actually_caches(small_llm):
    """The KV-cache part of the preflight, against the cache the packaged model really builds for a batch of prompts
    (measured: the bytes of every layer's keys and values), not against the estimate's own printed numbers."""
    import torch

    tokenizer, model, _ = small_llm
    batch = tokenizer(["Shares rose as the bank reported record profits. " * 12] * 3, return_tensors="pt")
    with torch.no_grad():
        cache = model(**batch, use_cache=True).past_key_values
    measured = sum(layer.keys.nbytes + layer.values.nbytes for layer in cache.layers)
    tokens = batch.input_ids.shape[1]
    estimate = memory_estimate(model_shape("packaged:SmolLM2-135M-Instruct"), "none", model.dtype.itemsize,
                               prompt_tokens=tokens, new_tokens=0, batch=3)
    assert estimate["kv_cache"] == pytest.approx(measured, rel=0.01)


def test_whole_documents_are_estimated_at_the_models_window(host_precision):
    """Issue 37 (7): colab-t4 sends whole documents (label_doc_words None), cut only to the model's window: the
    estimate is made for prompts that long (Llama-2: 4,096 tokens less the answer's 24), not for 250 words a
    document. Documents cut to a number of words are estimated as before, and never above the window."""
    from helpers.memory import prompt_tokens_of

    line = preflight(resolve_settings("colab-t4", label_batch_size=1), T4, "a T4", disk_free=100e9)
    assert "KV cache for 1 prompts of up to 4072 tokens (the model's window)" in line
    assert prompt_tokens_of(resolve_settings("colab-t4", label_doc_words=100), 4096) == 955
    assert prompt_tokens_of(resolve_settings("colab-t4", label_doc_words=5000), 4096) == 4072
    assert "prompts of about 731 tokens" in preflight(resolve_settings("offline"), 2e9)
