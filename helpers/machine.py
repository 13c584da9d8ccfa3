"""The machine a notebook runs on: device, GPU, precision, versions, cache folder, quiet logs.

Every notebook's first code cell after its parameters calls :func:`setup_notebook`.
"""

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
    """Where models and embeddings are cached: ``cache_dir``, ``$TOPIC_LLAMA2_CACHE`` or ``~/.cache/topic-modeling-llama2``
    (notebooks 03-06 keep their caches there)."""
    return Path(cache_dir or os.environ.get("TOPIC_LLAMA2_CACHE") or "~/.cache/topic-modeling-llama2").expanduser()


def running_in_colab() -> bool:
    """True inside a Google Colab runtime."""
    import importlib.util

    try:
        return importlib.util.find_spec("google.colab") is not None
    except ModuleNotFoundError:  # no "google" namespace package at all
        return False


def compute_device() -> str:
    """``cuda:N`` when a GPU is visible, else ``cpu``: the reference's device line, which notebook 01 prints."""
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


# GPUs an estimate can be made for without one at hand: their memory and whether they compute bfloat16.
# A T4 (compute capability 7.5, Colab's free GPU) computes float16 only.
GPUS = {"T4": {"name": "Tesla T4", "memory_gib": 14.7, "free_gib": 14.7, "bf16": False}}  # torch's reading on Colab
PROFILE_GPUS = {"colab-t4": "T4"}  # the GPU a profile is sized for: its estimates are made for it where none is visible


def cpu_supports_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """True when the CPU computes bfloat16 natively (AVX512-BF16 or AMX-BF16 in its flags)."""
    try:
        return bool(re.search(r"\b(?:avx512_bf16|amx_bf16)\b", Path(cpuinfo).read_text()))
    except OSError:
        return False


def torch_computes_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """True when torch will compute bfloat16 natively on this CPU: it picked its AVX-512 kernels
    (``torch.backends.cpu.get_cpu_capability()``, which ``ATEN_CPU_CAPABILITY=avx2`` holds back, as on an
    AVX2-only laptop) and the CPU has AVX512-BF16 or AMX-BF16 (:func:`cpu_supports_bf16`)."""
    import torch

    return torch.backends.cpu.get_cpu_capability().startswith("AVX512") and cpu_supports_bf16(cpuinfo)


def resolve_precision(precision: str = "auto", gpu: Optional[str | dict[str, Any]] = None) -> str:
    """``precision`` itself, or for "auto" what the hardware computes natively.

    A GPU with bfloat16 (compute capability 8.0 and up) -> "bf16"; a GPU without it (a T4,
    7.5) -> "fp16"; a CPU where torch computes bf16 (:func:`torch_computes_bf16`) -> "bf16"
    (BENCHMARKS.md); any other CPU -> "fp32". ``gpu`` (a name in :data:`GPUS`, or a
    :func:`gpu_summary`) resolves it for that GPU instead of this machine's.
    """
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
    """The dtype 4-bit weights are computed in: the reference's bfloat16, or float16 on a GPU without
    native bfloat16 (a T4, compute capability 7.5), where bfloat16 would be emulated, slowly. Notebook 01
    writes this line out in its ``BitsAndBytesConfig`` cell."""
    import torch

    return "float16" if torch.cuda.is_available() and not torch.cuda.is_bf16_supported() else "bfloat16"


def gpu_status(settings: Settings) -> str:
    """One sentence on the GPU (notebook 00 shows it); raises with what to change when the profile needs one
    and none is there."""
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
    """Give back the memory of what nothing references any more: ``gc.collect()`` and, on a GPU, what torch's
    allocator still reserves (``torch.cuda.empty_cache()``), which the next memory preflight would count as used.
    Notebook 01 writes out the same function; the runner calls this one between notebooks."""
    import gc
    import sys

    gc.collect()
    torch = sys.modules.get("torch")  # never imported: nothing of torch's to free
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def package_versions(names: tuple[str, ...] = KEY_PACKAGES) -> dict[str, str]:
    """Installed versions of the series' main packages ("missing" when not installed); notebook 00 lists them."""
    from importlib import metadata

    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "missing"
    return versions


def profile_for_this_machine(profile: str) -> tuple[str, str]:
    """``(profile, note)``: the requested profile, or ``"offline"`` when it needs a GPU and none is there.

    The Colab editions call it, so a notebook opened on a CPU runtime still runs end to end.
    """
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
        """False (drop) for a record whose message starts with the prefix."""
        return not str(record.msg).startswith(self.prefix)


def drop_log_messages(logger_name: str, prefix: str) -> None:
    """Drop the records of ``logger_name`` starting with ``prefix`` (adding the same filter twice does nothing)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, _DropMessage) and f.prefix == prefix for f in logger.filters):
        logger.addFilter(_DropMessage(prefix))


class _ToStdout(logging.StreamHandler):
    """Writes each record to whatever ``sys.stdout`` is then (a notebook's cell, a test's capture)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


def show_progress(wanted: bool = True) -> bool:
    """``wanted``, unless the runner turned progress bars off (``TQDM_DISABLE`` in its kernels: a log or an executed
    edition then holds no bar drawn as text); our own bars (03's embeddings, the labeler's batches) ask here."""
    return bool(wanted) and not os.environ.get("TQDM_DISABLE")


def bertopic_log_to_stdout() -> None:
    """BERTopic's log (the post's ``verbose=True``) as ordinary output: its handler writes to stderr, an error's stream.

    Before bertopic is imported, ours comes first and BERTopic keeps only the first handler (``bertopic._utils``).
    """
    logger = logging.getLogger("BERTopic")
    if any(isinstance(h, _ToStdout) for h in logger.handlers):
        return
    ours = _ToStdout()
    ours.setFormatter(logging.Formatter("%(asctime)s - %(name)s - %(message)s"))
    logger.handlers = [ours] + [h for h in logger.handlers if type(h) is not logging.StreamHandler]


def quiet_noisy_loggers() -> None:
    """Silence messages that say nothing a learner can act on.

    bitsandbytes int8 on CPU logs "MatMul8bitLt: inputs will be cast" at every layer call
    (thousands of lines); on a CPU with AVX512-BF16 it tries to download an optional nf4
    kernel from the Hub and computes with its own code when it cannot. BERTopic warns
    when saving with safetensors without naming the embedding model (we save it apart),
    and its ``visualize_documents`` writes into a slice of its own table (pandas warns);
    datamapplot asks for a heavier weight than DejaVu Sans has.
    """
    drop_log_messages("bitsandbytes.autograd._functions", "MatMul8bitLt")
    drop_log_messages("bitsandbytes.backends.cpu.ops", "Failed to load CPU gemm_4bit_forward")
    drop_log_messages("BERTopic", "WARNING: You are saving a BERTopic model without explicitly defining")
    # notebook 06 reassigns outliers as its last step, as this warning asks
    drop_log_messages("BERTopic", "WARNING: Using a custom list of topic assignments may lead to errors")
    warnings.filterwarnings("ignore", message="A value is trying to be set on a copy", module="bertopic")
    bertopic_log_to_stdout()
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)


# umap-learn's and datashader's numba kernels ship without numba's on-disk cache (pynndescent's have it)
UNCACHED_KERNELS = ("umap.umap_", "umap.utils", "umap.layouts", "umap.distances", "umap.sparse", "datashader.bundling")


def cache_numba_kernels(modules: tuple[str, ...] = UNCACHED_KERNELS) -> int:
    """numba's own on-disk cache turned on for the kernels of ``modules`` (``Dispatcher.enable_caching``, what
    ``@njit(cache=True)`` does), so each later notebook loads them instead of compiling them again: a notebook
    that fits UMAP starts about 15 s sooner on 2 cores (26.5 s -> 11.6 s, ``benchmarks/monkeypatches.py``). ``numba.jit`` itself is
    never touched, and importing helpers never calls this; notebook 03's :func:`helpers.topics.cached`, before
    UMAP's first fit, does (00 and 01 import no UMAP: they start 8 s sooner). Returns how many."""
    import importlib

    try:
        from numba.core.caching import NullCache
        from numba.core.dispatcher import Dispatcher
    except ImportError:  # another numba layout: the kernels compile in each process
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
                    except RuntimeError:  # nowhere writable: it compiles in each process
                        continue
                cached += 1
    return cached


def setup_notebook(profile: Any = "offline", more_settings: Optional[dict[str, Any]] = None, **knobs: Any) -> Settings:
    """The one setup line of every notebook: ``settings = setup_notebook(profile, more_settings, knob=value, ...)``.

    Resolves the profile with the notebook's knobs and ``more_settings`` (the knobs its parameters cell does
    not show: file formats, a server, replay, cuML...; see ``helpers.settings.Settings``), quiets the noisy
    loggers, and prints one line: the profile, the device and its memory, the precision "auto" resolves
    to, and the versions of torch, transformers and bertopic (notebook 00 lists the rest). ``profile`` may also be resolved settings. Returns the settings; raises when the
    profile needs a GPU and none is there, or names a knob or value that does not exist, in one sentence.
    """
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
