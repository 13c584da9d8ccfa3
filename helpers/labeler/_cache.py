"""LLM answers on disk, keyed by who answered and the prompt: re-runs replay, killed runs resume."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Mapping, Optional, Union


class AnswerCache:
    """LLM answers on disk, one JSON file per prompt, keyed by ``identity`` (:func:`generator_identity`) and prompt."""

    def __init__(self, folder: Union[str, Path], identity: Mapping[str, Any]):
        self.folder = Path(folder)
        self.identity = json.dumps(dict(identity), sort_keys=True, default=str)

    def path(self, prompt: str) -> Path:
        key = hashlib.sha256(f"{self.identity}\x00{prompt}".encode("utf-8")).hexdigest()
        return self.folder / key[:2] / f"{key}.json"

    def get(self, prompt: str) -> Optional[list[str]]:
        path = self.path(prompt)
        return json.loads(path.read_text(encoding="utf-8"))["answers"] if path.exists() else None

    def put(self, prompt: str, answers: list[str]) -> None:
        from ..files import atomic_write

        path = self.path(prompt)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps({"who": json.loads(self.identity), "prompt": prompt, "answers": answers}, ensure_ascii=False)
        atomic_write(path, lambda tmp: Path(tmp).write_text(data, encoding="utf-8"))


def generator_identity(generator, **generation: Any) -> dict[str, Any]:
    """Who answers: a pipeline's model (name, dtype, quantization) or a server's ``identity()``, and ``generation``."""
    if hasattr(generator, "identity"):
        return {**generator.identity(), **generation}
    model = getattr(generator, "model", None)
    config = getattr(model, "config", None)
    quantization = getattr(config, "quantization_config", None)
    return {"backend": "transformers", "model": getattr(config, "_name_or_path", type(generator).__name__),
            "dtype": str(getattr(model, "dtype", "")),
            "quantization": quantization.to_dict() if hasattr(quantization, "to_dict") else quantization,
            **generation}
