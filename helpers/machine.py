"""The machine a notebook runs on: device, GPU, precision, versions, cache folder, quiet logs.
Every notebook's first code cell after its parameters calls :func:`setup_notebook`."""

from __future__ import annotations

import logging
import os
import re
import sys
import warnings
from pathlib import Path
from typing import Any, Optional

from .settings import PRECISIONS, Settings, resolve_settings

KEY_PACKAGES = (
    "torch", "transformers", "bitsandbytes", "accelerate", "sentence-transformers", "bertopic", "umap-learn", "hdbscan",
)


def default_cache_dir(cache_dir: Optional[str] = None) -> Path:
    """The cache folder of notebooks 03-06: ``cache_dir``, ``$TOPIC_LLAMA2_CACHE`` or
    ``~/.cache/topic-modeling-llama2``."""
    return Path(cache_dir or os.environ.get("TOPIC_LLAMA2_CACHE") or "~/.cache/topic-modeling-llama2").expanduser()


def running_in_colab() -> bool:
    """True inside a Google Colab runtime."""
    import importlib.util

    try:
        return importlib.util.find_spec("google.colab") is not None
    except ModuleNotFoundError:  # no "google" namespace package at all
        return False


def compute_device() -> str:
    """``cuda:N`` when a GPU is visible, else ``cpu`` (notebook 01 prints it)."""
    from torch import cuda

    return f"cuda:{cuda.current_device()}" if cuda.is_available() else "cpu"


def gpu_summary() -> Optional[dict[str, Any]]:
    """Name, total and free memory (GiB) and bf16 support of the first GPU, or ``None`` without one."""
    import torch

    if not torch.cuda.is_available():
        return None
    props = torch.cuda.get_device_properties(0)
    free, _ = torch.cuda.mem_get_info(0)
    return {"name": props.name, "memory_gib": round(props.total_memory / 2**30, 1),
            "free_gib": round(free / 2**30, 1), "bf16": torch.cuda.is_bf16_supported()}


# GPUs an estimate can be made for without one at hand; a T4 computes float16 only
GPUS = {"T4": {"name": "Tesla T4", "memory_gib": 14.7, "free_gib": 14.7, "bf16": False}}  # torch's reading on Colab
PROFILE_GPUS = {"colab-t4": "T4"}  # the GPU a profile's estimates assume where none is visible


def cpu_supports_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """True when the CPU computes bfloat16 natively (AVX512-BF16 or AMX-BF16 in its flags)."""
    try:
        return bool(re.search(r"\b(?:avx512_bf16|amx_bf16)\b", Path(cpuinfo).read_text()))
    except OSError:
        return False


def torch_computes_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """True when torch picked its AVX-512 kernels and the CPU has AVX512-BF16 or AMX-BF16."""
    import torch

    return torch.backends.cpu.get_cpu_capability().startswith("AVX512") and cpu_supports_bf16(cpuinfo)


def resolve_precision(precision: str = "auto", gpu: Optional[str | dict[str, Any]] = None) -> str:
    """``precision`` itself, or for "auto" what the hardware computes natively: "bf16", "fp16" (a T4) or "fp32".
    ``gpu`` (a name in :data:`GPUS` or a :func:`gpu_summary`) resolves it for that GPU; raises ``ValueError``."""
    if precision not in PRECISIONS:
        raise ValueError(f"Unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}.")
    if precision != "auto":
        return precision
    if isinstance(gpu, str) and gpu not in GPUS:
        raise ValueError(f"No GPU named {gpu!r} is known here; use one of {', '.join(GPUS)}, or leave gpu out.")
    gpu = GPUS[gpu] if isinstance(gpu, str) else gpu or gpu_summary()
    if gpu:
        return "bf16" if gpu["bf16"] else "fp16"
    return "bf16" if torch_computes_bf16() else "fp32"


DTYPE_NAMES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}  # a precision's torch dtype, by name


def torch_dtype(precision: str = "auto"):
    """The torch dtype :func:`resolve_precision` gives ``precision`` (notebook 03 embeds in it)."""
    import torch

    return getattr(torch, DTYPE_NAMES[resolve_precision(precision)])


def nf4_compute_dtype() -> str:
    """The dtype 4-bit weights compute in: "bfloat16", or "float16" on a GPU without it, e.g. a T4 (notebook 01)."""
    import torch

    return "float16" if torch.cuda.is_available() and not torch.cuda.is_bf16_supported() else "bfloat16"


def gpu_status(settings: Settings) -> str:
    """One sentence on the GPU (notebook 00); raises ``RuntimeError`` saying what to change when one is needed."""
    gpu = gpu_summary()
    if gpu is None and settings.require_gpu:
        raise RuntimeError(
            f"Profile {settings.profile!r} needs a GPU and none is visible. In Colab: Runtime > Change "
            f"runtime type > T4 GPU. Or set profile = 'offline' to run on the CPU with packaged models."
        )
    if gpu is None:
        return f"no GPU, the CPU ({os.cpu_count()} cores)"
    return f"GPU {gpu['name']}, {gpu['memory_gib']} GiB ({gpu['free_gib']} GiB free)"


def free_memory() -> None:
    """``gc.collect()`` and, on a GPU, ``torch.cuda.empty_cache()`` (notebook 01 writes it out; the runner and the
    all-in-one Colab edition call it)."""
    import gc
    import sys

    gc.collect()
    torch = sys.modules.get("torch")  # torch never imported: nothing to free
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def package_versions(names: tuple[str, ...] = KEY_PACKAGES) -> dict[str, str]:
    """Installed versions of the main packages, "missing" when absent (notebook 00 lists them)."""
    from importlib import metadata

    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "missing"
    return versions


def profile_for_this_machine(profile: str) -> tuple[str, str]:
    """``(profile, note)``: ``profile``, or "offline" when it needs a GPU and none is there (the Colab editions)."""
    gpu = gpu_summary()
    if resolve_settings(profile).require_gpu and gpu is None:
        return "offline", (
            f"No GPU on this runtime, so profile {profile!r} is switched to 'offline' (packaged models, CPU). "
            f"For the Llama-2 path: Runtime > Change runtime type > T4 GPU, then run all cells again."
        )
    where = f"GPU {gpu['name']} ({gpu['memory_gib']} GiB)" if gpu else "the CPU"
    return profile, f"Profile {profile!r} on {where}."


class _DropMessage(logging.Filter):
    """Drops the log records whose message starts with ``prefix``."""

    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


def drop_log_messages(logger_name: str, prefix: str) -> None:
    """Drop the records of ``logger_name`` starting with ``prefix`` (idempotent)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, _DropMessage) and f.prefix == prefix for f in logger.filters):
        logger.addFilter(_DropMessage(prefix))


class _ToStdout(logging.StreamHandler):
    """Writes each record to the current ``sys.stdout``."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


def show_progress(wanted: bool = True) -> bool:
    """``wanted``, unless ``TQDM_DISABLE`` turned progress bars off (the runner sets it)."""
    return bool(wanted) and not os.environ.get("TQDM_DISABLE")


def bertopic_log_to_stdout() -> None:
    """Send BERTopic's log (``verbose=True``) to stdout instead of stderr."""
    logger = logging.getLogger("BERTopic")
    if any(isinstance(h, _ToStdout) for h in logger.handlers):
        return
    ours = _ToStdout()
    ours.setFormatter(logging.Formatter("%(asctime)s - %(name)s - %(message)s"))
    logger.handlers = [ours] + [h for h in logger.handlers if type(h) is not logging.StreamHandler]


def quiet_noisy_loggers() -> None:
    """Silence messages a learner cannot act on (bitsandbytes, BERTopic, pandas, matplotlib fonts)."""
    drop_log_messages("bitsandbytes.autograd._functions", "MatMul8bitLt")
    drop_log_messages("bitsandbytes.backends.cpu.ops", "Failed to load CPU gemm_4bit_forward")
    drop_log_messages("BERTopic", "WARNING: You are saving a BERTopic model without explicitly defining")
    # notebook 06 reassigns outliers last, as this warning asks
    drop_log_messages("BERTopic", "WARNING: Using a custom list of topic assignments may lead to errors")
    warnings.filterwarnings("ignore", message="A value is trying to be set on a copy", module="bertopic")
    bertopic_log_to_stdout()
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)


# numba kernels shipped without numba's on-disk cache
UNCACHED_KERNELS = ("umap.umap_", "umap.utils", "umap.layouts", "umap.distances", "umap.sparse", "datashader.bundling")


def cache_numba_kernels(modules: tuple[str, ...] = UNCACHED_KERNELS) -> int:
    """Turn on numba's on-disk cache for the kernels of ``modules``, so later notebooks load them instead of compiling
    them; returns how many. Notebook 03 calls it (via :func:`helpers.topics.cached`) before UMAP's first fit."""
    import importlib

    try:
        from numba.core.caching import NullCache
        from numba.core.dispatcher import Dispatcher
    except ImportError:  # another numba layout
        return 0
    cached = 0
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        for kernel in vars(module).values():
            if isinstance(kernel, Dispatcher) and kernel.py_func.__module__ == name and not kernel.py_func.__closure__:
                if isinstance(kernel._cache, NullCache):
                    try:
                        kernel.enable_caching()
                    except RuntimeError:  # nowhere writable
                        continue
                cached += 1
    return cached


def setup_notebook(profile: Any = "offline", more_settings: Optional[dict[str, Any]] = None, **knobs: Any) -> Settings:
    """Every notebook's setup line: ``settings = setup_notebook(profile, more_settings, knob=value, ...)``; ``profile``
    may be resolved settings, ``more_settings`` the knobs the parameters cell hides. Quiets loggers, prints the profile,
    device, precision and versions; raises in one sentence for a missing GPU or a knob unknown, set twice or invalid."""
    if isinstance(profile, Settings):
        settings = profile
    else:
        more = more_settings or {}
        clash = sorted(k for k in more if knobs.get(k) is not None)  # a parameter left at None is not set
        if clash:
            raise ValueError(f"{clash[0]!r} is set twice, as a parameter and in more_settings: keep one.")
        settings = resolve_settings(profile, **{**more, **{k: v for k, v in knobs.items() if v is not None}})
    quiet_noisy_loggers()
    where = "Colab" if running_in_colab() else "local"
    versions = package_versions(("torch", "transformers", "bertopic"))
    print(f"profile {settings.profile!r} ({where}) · {gpu_status(settings)}, device {compute_device()} · "
          f"precision 'auto' is {resolve_precision('auto')} · " + ", ".join(f"{n} {v}" for n, v in versions.items()))
    return settings
