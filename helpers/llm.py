"""A chat LLM, quantized or not, as a text-generation pipeline (notebook 01's code, reused later); :func:`preflight`
says if it will fit."""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Any, Optional

from .machine import (
    DTYPE_NAMES, GPUS, PROFILE_GPUS, default_cache_dir, gpu_summary, nf4_compute_dtype, quiet_noisy_loggers,
    resolve_precision,
)
from .memory import GB, download_check, free_memory_here, memory_estimate, model_shape, prompt_tokens_of
from .packaged import GGUF_FILE, GGUF_PACKAGE, materialize_gguf
from .settings import NON_GATED_CHAT_MODEL, PACKAGED_LLM, Settings

# The reference's generation settings (step 7); sampling on explicitly, as in Llama-2-chat's config.
REFERENCE_GENERATION = dict(do_sample=True, temperature=0.1, max_new_tokens=500, repetition_penalty=1.1)


def quantization_config(kind: str = "nf4", compute_dtype: Optional[str] = None):
    """The ``BitsAndBytesConfig`` for ``kind``: "nf4" (the reference's, notebook 01, computing in ``compute_dtype``),
    "int8" or "none" (``None``)."""
    import torch
    import transformers

    if kind == "none":
        return None
    if kind == "int8":
        return transformers.BitsAndBytesConfig(load_in_8bit=True)
    if kind == "nf4":
        return transformers.BitsAndBytesConfig(
            load_in_4bit=True,  # 4-bit quantization
            bnb_4bit_quant_type="nf4",  # Normalized float 4
            bnb_4bit_use_double_quant=True,  # Second quantization after the first
            bnb_4bit_compute_dtype=getattr(torch, compute_dtype or nf4_compute_dtype()),  # Computation type
        )
    raise ValueError(f"Unknown quantization {kind!r}; use 'nf4', 'int8' or 'none'.")


def model_path(llm_model: str, cache_dir: Optional[str] = None) -> str:
    """What to pass to ``from_pretrained``: a Hub id as is, or the packaged model's converted folder (notebook 01)."""
    if llm_model != PACKAGED_LLM:
        return llm_model
    from .data import package_dir

    out = default_cache_dir(cache_dir) / "models" / "SmolLM2-135M-Instruct"
    return str(materialize_gguf(package_dir(GGUF_PACKAGE), GGUF_FILE, out))


def explain_loading_error(error: BaseException, llm_model: str) -> BaseException:
    """One sentence on what to change when a gated model is refused or the GPU is full; other errors come back
    unchanged."""
    text = f"{type(error).__name__}: {error}".lower()
    refused = re.search(r"\b(?:401|403)\b", text)  # an HTTP status, not any number holding those digits
    if "gated" in text or refused or "access to model" in text:
        return PermissionError(
            f"Access to {llm_model} was refused: it is a gated model. Request access at "
            f"https://huggingface.co/{llm_model} and log in (notebook 00), or use profile = 'colab-t4-open' "
            f"(the ungated {NON_GATED_CHAT_MODEL!r}), or profile = 'offline'."
        )
    if "out of memory" in text or "outofmemory" in text:
        return MemoryError(
            f"The GPU ran out of memory loading {llm_model}. Use quantization = 'nf4', a smaller model "
            f"(e.g. 'meta-llama/Llama-2-7b-chat-hf'), or profile = 'offline'; then restart the runtime."
        )
    return error


def prepare_for_batching(tokenizer) -> None:
    """Pad on the left with a pad token, for batched prompts (notebook 01)."""
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token


@contextmanager
def explained_loading_errors(llm_model: str):
    """Context manager re-raising a failed load as :func:`explain_loading_error`'s sentence (notebook 01)."""
    try:
        yield
    except Exception as error:
        explained = explain_loading_error(error, llm_model)
        if explained is error:
            raise
        raise explained from error


def load_llm(llm_model: str, quantization: str = Settings.quantization, cache_dir: Optional[str] = None,
             device_map: str = "auto", precision: Optional[str] = None):
    """Notebook 01's loading code: ``(tokenizer, model)``, the tokenizer padded on the left with a pad token and the
    model in eval mode; ``precision`` ("bf16", "fp16", "fp32", "auto"; ``None``: the model's own) is the dtype, or
    nf4's compute dtype."""
    import transformers

    path = model_path(llm_model, cache_dir)
    dtype = DTYPE_NAMES[resolve_precision(precision)] if precision else None
    quiet_noisy_loggers()
    with explained_loading_errors(llm_model):
        tokenizer = transformers.AutoTokenizer.from_pretrained(path, trust_remote_code=False)
        model = transformers.AutoModelForCausalLM.from_pretrained(
            path,
            trust_remote_code=False,
            quantization_config=quantization_config(quantization, dtype),
            device_map=device_map,
            dtype="auto" if dtype is None or quantization == "int8" else dtype,
        )
    model.eval()
    prepare_for_batching(tokenizer)
    return tokenizer, model


def make_generator(model, tokenizer, **generation: Any):
    """Notebook 01's text-generation ``pipeline``, with the reference's settings unless ``generation`` overrides
    them."""
    import transformers

    settings = {**REFERENCE_GENERATION, **generation}
    return transformers.pipeline(task="text-generation", model=model, tokenizer=tokenizer, **settings)


def preflight(settings: Settings, available: Optional[float] = None, where: str = "", copies: int = 1,
              batch: Optional[int] = None, disk_free: Optional[float] = None,
              gpu: Optional[str | dict[str, Any]] = None) -> str:
    """Will ``settings.llm_model`` fit while labeling? Returns a line with the estimate (notebooks 01 and 02 print it),
    else raises ``MemoryError`` saying what to change. For ``gpu`` (a :data:`helpers.machine.GPUS` name), else this GPU,
    the profile's, or RAM ("auto" precision is resolved for that target, not this machine); ``available`` in bytes;
    ``copies``: models held at once; ``batch``: ``label_batch_size`` x ``label_candidates`` by default. A model not yet
    downloaded is checked against the free disk too."""
    here = gpu_summary()
    if isinstance(gpu, str):
        resolve_precision("auto", gpu)  # an unknown name raises, naming the known ones
    target = GPUS[gpu] if isinstance(gpu, str) else gpu or here or GPUS.get(PROFILE_GPUS.get(settings.profile, ""))
    if available is None:
        available, where = free_memory_here() if target is here else (target["free_gib"] * 2**30, f"a {target['name']}")
    try:
        shape = model_shape(settings.llm_model, settings.cache_dir)
    except OSError as error:  # a Hub model whose config cannot be read from here
        return f"No memory estimate for {settings.llm_model}: its config.json could not be read ({type(error).__name__})."
    dtype = {"bf16": 2, "fp16": 2, "fp32": 4}.get(resolve_precision(settings.precision, target)) if settings.precision else None
    batch = batch or settings.label_batch_size * settings.label_candidates
    prompt = prompt_tokens_of(settings, shape.get("max_position_embeddings"))
    # whole documents: prompts up to the model's window
    prompt_size = "up to {} tokens (the model's window)" if settings.label_doc_words is None and shape.get(
        "max_position_embeddings") else "about {} tokens"

    def need(size: int) -> dict[str, float]:
        """The estimate for ``size`` prompts, every copy's weights counted."""
        one = memory_estimate(shape, settings.quantization, dtype, prompt, settings.label_max_new_tokens, size)
        return {**one, "total": one["total"] + (copies - 1) * one["weights"]}

    estimate = need(batch)
    line = (f"{settings.llm_model} ({settings.quantization}, {estimate['parameters'] / 1e9:.2f}B parameters) needs "
            f"about {estimate['total'] / GB:.1f} GB: {copies * estimate['weights'] / GB:.1f} GB weights"
            f"{f' ({copies} copies)' if copies > 1 else ''} + {estimate['kv_cache'] / GB:.1f} GB KV cache for "
            f"{batch} prompts of {prompt_size.format(prompt)} + "
            f"{(estimate['activations'] + estimate['working']) / GB:.1f} GB working memory; {where or 'here'} has {available / GB:.1f} GB free.")
    if estimate["total"] <= available:
        return line + download_check(settings.llm_model, estimate["parameters"] * shape["bytes"], disk_free)
    fitting = [b for b in (8, 4, 2, 1) if b < batch and need(b)["total"] <= available]
    if copies > 1 and estimate["total"] - (copies - 1) * estimate["weights"] <= available:  # one copy would fit
        advice = "free the first model before loading the next (del model; gc.collect(); torch.cuda.empty_cache())"
    elif fitting:
        advice = f"set label_batch_size to {max(1, fitting[0] // settings.label_candidates)}"
    else:
        smaller = "quantization = 'nf4', " if settings.quantization != "nf4" else ""
        advice = f"use {smaller}a smaller model (e.g. 'meta-llama/Llama-2-7b-chat-hf') or profile = 'offline'"
    raise MemoryError(f"Will not fit: {line} To fit, {advice}.")
