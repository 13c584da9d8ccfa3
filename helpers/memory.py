"""Will it fit? The memory a chat model needs to generate labels, estimated before any download or load.

Used by :func:`helpers.llm.preflight`, which notebooks 01 and 02 print.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from .settings import PACKAGED_LLM, Settings

# The profiles' models, so their estimate needs no download
KNOWN_SHAPES = {
    "meta-llama/Llama-2-13b-chat-hf": dict(num_hidden_layers=40, hidden_size=5120, num_attention_heads=40,
                                           num_key_value_heads=40, intermediate_size=13824, vocab_size=32000,
                                           tie_word_embeddings=False, bytes=2, max_position_embeddings=4096),
    "meta-llama/Llama-2-7b-chat-hf": dict(num_hidden_layers=32, hidden_size=4096, num_attention_heads=32,
                                          num_key_value_heads=32, intermediate_size=11008, vocab_size=32000,
                                          tie_word_embeddings=False, bytes=2, max_position_embeddings=4096),
}
BYTES_PER_WEIGHT = {"nf4": 0.516, "int8": 1.0}  # nf4: 4 bits + block constants
GB = 1e9


def model_shape(llm_model: str, cache_dir: Optional[str] = None) -> dict[str, Any]:
    """The shape of ``llm_model`` (layers, widths, bytes per weight, window or ``None``) from ``KNOWN_SHAPES``
    or its ``config.json``."""
    if llm_model in KNOWN_SHAPES:
        return KNOWN_SHAPES[llm_model]
    import transformers

    from .llm import model_path

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
    """Bytes a Llama-like model needs to generate ``batch`` sequences (weights, kv_cache, activations, working,
    total); ``dtype_bytes`` overrides the checkpoint's for unquantized weights."""
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
    """About how many tokens one labeling prompt has (whole documents: about 250 words each), capped (as the labeler
    cuts) at ``window`` less ``label_max_new_tokens``; with whole documents and a ``window``, that bound."""
    bound = window - settings.label_max_new_tokens if window else None
    if settings.label_doc_words is None and bound:
        return bound
    estimate = int(350 + settings.nr_docs * (settings.label_doc_words or 250) * 1.4 + 45)
    return min(estimate, bound) if bound else estimate


def download_check(llm_model: str, checkpoint_bytes: float, disk_free: Optional[float] = None) -> str:
    """A clause for the preflight line on a Hub model's first download ("" when nothing to download); raises
    ``OSError`` saying what to do when ``checkpoint_bytes`` exceed the Hugging Face cache's free disk."""
    import shutil

    from huggingface_hub.constants import HF_HUB_CACHE

    cache = Path(HF_HUB_CACHE)
    if llm_model == PACKAGED_LLM or Path(llm_model).expanduser().is_dir():  # nothing to download
        return ""
    if (cache / f"models--{llm_model.replace('/', '--')}").exists():
        return ""
    root = next(p for p in (cache, *cache.parents) if p.exists())
    free = shutil.disk_usage(root).free if disk_free is None else disk_free
    if checkpoint_bytes > free:
        raise OSError(f"Downloading {llm_model} needs about {checkpoint_bytes / GB:.1f} GB of disk and {cache} has "
                      f"{free / GB:.1f} GB free: free some space, or set HF_HOME to a folder on a larger disk.")
    return f" First it downloads about {checkpoint_bytes / GB:.1f} GB ({free / GB:.0f} GB free on disk)."
