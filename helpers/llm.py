"""Loading a chat LLM, quantized or not, and wrapping it in a text-generation pipeline.

The reference loads ``meta-llama/Llama-2-13b-chat-hf`` in 4-bit (nf4, double
quantization, bfloat16 compute) with ``AutoModelForCausalLM.from_pretrained(...,
quantization_config=..., device_map="auto")``, as notebook 01 writes out. The same call serves
every profile: for the offline model the packaged GGUF file is materialized once into a cached
safetensors folder (:mod:`helpers.packaged`), and that folder is what ``from_pretrained`` reads.
:func:`preflight` says beforehand whether the model will fit (the estimate: :mod:`helpers.memory`).
"""

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

# The reference's generation settings (step 7). Llama-2-chat's own generation_config
# turns sampling on, so temperature 0.1 means "sample at 0.1"; we say so explicitly so
# the same settings behave the same on models whose config leaves sampling off.
REFERENCE_GENERATION = dict(do_sample=True, temperature=0.1, max_new_tokens=500, repetition_penalty=1.1)


def quantization_config(kind: str = "nf4", compute_dtype: Optional[str] = None):
    """The ``BitsAndBytesConfig`` for ``kind`` ("nf4", "int8" or "none" -> ``None``).

    "nf4" is the reference's config that notebook 01 writes out and explains knob by knob, computing
    in ``compute_dtype`` (default :func:`helpers.machine.nf4_compute_dtype`: bfloat16, float16 on a T4);
    "int8" is LLM.int8() 8-bit loading.
    """
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
    """What to pass to ``from_pretrained``: a Hub id as is, or the packaged model's folder
    (:func:`helpers.packaged.materialize_gguf`). Notebook 01's loading cell calls it."""
    if llm_model != PACKAGED_LLM:
        return llm_model
    from .data import package_dir

    out = default_cache_dir(cache_dir) / "models" / "SmolLM2-135M-Instruct"
    return str(materialize_gguf(package_dir(GGUF_PACKAGE), GGUF_FILE, out))


def explain_loading_error(error: BaseException, llm_model: str) -> BaseException:
    """A one-sentence error saying what to change, for the loading failures users hit.

    Gated model refused (no token, or licence not accepted), GPU out of memory; any
    other error is returned unchanged.
    """
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
    """Pad on the left (decoder-only models generate after the last token) with a pad token; notebook 01
    calls it before asking two questions at once."""
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token


@contextmanager
def explained_loading_errors(llm_model: str):
    """Around a model load: a gated model refused or a full GPU becomes one sentence on what to change
    (:func:`explain_loading_error`); any other error passes unchanged. Notebook 01 loads inside it."""
    try:
        yield
    except Exception as error:
        explained = explain_loading_error(error, llm_model)
        if explained is error:
            raise
        raise explained from error


def load_llm(llm_model: str, quantization: str = Settings.quantization, cache_dir: Optional[str] = None,
             device_map: str = "auto", precision: Optional[str] = None):
    """Notebook 01's loading code (section 2) for the notebooks after it; returns ``(tokenizer, model)``.

    ``quantization`` picks the ``BitsAndBytesConfig`` (:func:`quantization_config`); ``precision``
    ("bf16", "fp16", "fp32" or "auto") is the dtype of an unquantized model and the compute dtype
    of an nf4 one; ``None`` keeps the model's own dtype and nf4 computes in :func:`nf4_compute_dtype`.
    The tokenizer pads on the left so prompts can be batched.
    """
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
    """Notebook 01's ``pipeline(task="text-generation", ...)`` with the reference's generation settings
    (notebook 01 teaches this)."""
    import transformers

    settings = {**REFERENCE_GENERATION, **generation}
    return transformers.pipeline(task="text-generation", model=model, tokenizer=tokenizer, **settings)


def footprint_mb(model) -> float:
    """Memory the model's weights and buffers take, in MB (notebook 01 compares them)."""
    return round(model.get_memory_footprint() / 1e6, 1)


def preflight(settings: Settings, available: Optional[float] = None, where: str = "", copies: int = 1,
              batch: Optional[int] = None, disk_free: Optional[float] = None,
              gpu: Optional[str | dict[str, Any]] = None) -> str:
    """Will ``settings.llm_model`` fit, quantized as asked, generating a batch of labels? One line with the
    estimate when it does (notebooks 01 and 02 print it); a ``MemoryError`` with the numbers and what to
    change when it does not.

    The estimate is made for ``gpu`` (a name in :data:`helpers.machine.GPUS`, e.g. "T4"), else the GPU
    in this machine, else the GPU the profile is sized for (colab-t4: a T4) when none is visible, else
    this machine's RAM: "auto" precision is resolved for that target, never for the host, so the numbers
    are the same on any machine. ``available`` and ``where`` default to the target's free memory;
    ``copies`` models at once (notebook 01 holds one); ``batch`` defaults to ``label_batch_size`` x
    ``label_candidates``. A model not downloaded yet is checked against the disk too
    (:func:`helpers.memory.download_check`, ``disk_free``).
    """
    here = gpu_summary()
    if isinstance(gpu, str):
        resolve_precision("auto", gpu)  # an unknown name: one sentence naming the known ones
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
    # whole documents: as long as the model's window lets a prompt be (the labeler cuts them to it)
    prompt_size = "up to {} tokens (the model's window)" if settings.label_doc_words is None and shape.get(
        "max_position_embeddings") else "about {} tokens"

    def need(size: int) -> dict[str, float]:
        """The estimate for a batch of ``size`` prompts, every copy's weights counted."""
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
