"""The labeler's LLM as the settings ask: loaded here, a server, or with ``replay_only`` just its tokenizer (notebooks
03 and 06)."""

from __future__ import annotations

from typing import Any, Optional

from .credentials import redact_url
from .settings import PACKAGED_LLM, Settings

# the packaged model's max_position_embeddings, known without reading its GGUF
PACKAGED_WINDOW = 8192


def model_window(llm_model: str) -> Optional[int]:
    """``llm_model``'s ``max_position_embeddings`` without loading it, ``None`` if unreadable (a replay cuts prompts to
    it)."""
    if llm_model == PACKAGED_LLM:
        return PACKAGED_WINDOW
    try:
        from .memory import model_shape

        return model_shape(llm_model).get("max_position_embeddings")
    except (OSError, ValueError):
        return None


def answer_identity(settings: Settings) -> dict[str, Any]:
    """The answer cache's key, from ``settings`` only (model, quantization, precision as set), plus the packaged model's
    GGUF name and sha256."""
    identity = {"backend": "transformers", "model": settings.llm_model, "quantization": settings.quantization,
                "precision": settings.precision}
    if settings.llm_model == PACKAGED_LLM:
        from .data import package_dir
        from .packaged import GGUF_FILE, GGUF_PACKAGE, gguf_source

        identity["gguf"] = gguf_source(package_dir(GGUF_PACKAGE), GGUF_FILE)
    return identity


class ReplayOnly:
    """``replay_only``'s generator: carries the tokenizer, :func:`answer_identity` and the model's window; raises
    ``LookupError`` if called."""

    def __init__(self, tokenizer, identity: dict[str, Any], max_position_embeddings: Optional[int] = None):
        self.tokenizer, self._identity = tokenizer, dict(identity)
        self.max_position_embeddings = max_position_embeddings

    def identity(self) -> dict[str, Any]:
        return dict(self._identity)

    def __call__(self, *args, **kwargs):
        raise LookupError("replay_only is on: answers come only from the cache; run once with replay_only = False "
                          "where the model is at hand to record them.")

    def __repr__(self) -> str:
        return f"ReplayOnly({self._identity['model']!r})"


def load_tokenizer(llm_model: str):
    """The tokenizer of ``llm_model`` alone, no weights (the packaged one read from its GGUF file)."""
    import transformers

    from .llm import explained_loading_errors, prepare_for_batching
    from .packaged import GGUF_FILE, GGUF_PACKAGE

    with explained_loading_errors(llm_model):
        if llm_model == PACKAGED_LLM:
            from .data import package_dir

            tokenizer = transformers.AutoTokenizer.from_pretrained(str(package_dir(GGUF_PACKAGE)), gguf_file=GGUF_FILE)
        else:
            tokenizer = transformers.AutoTokenizer.from_pretrained(llm_model, trust_remote_code=False)
    prepare_for_batching(tokenizer)
    return tokenizer


def open_labeler(settings: Settings) -> tuple[Any, Any]:
    """``(generator, tokenizer)`` for notebooks 03 and 06, saying what it did: a server checked, a local model
    preflighted and loaded, or a :class:`ReplayOnly`; each keyed by :func:`answer_identity`."""
    from .prompts import ChatMarkup

    if settings.llm_backend == "openai":
        from .serving import ChatServer

        generator = ChatServer(settings.llm_base_url, settings.llm_model, settings.llm_api_key_env,
                               settings.llm_concurrency, seed=settings.seed)
        print(f"replay_only: answers of {settings.llm_model} from the cache; the server at "
              f"{redact_url(settings.llm_base_url)} is not asked" if settings.replay_only else generator.check())
        return generator, ChatMarkup()
    identity = answer_identity(settings)
    if settings.replay_only:
        tokenizer = load_tokenizer(settings.llm_model)
        print(f"replay_only: answers of {settings.llm_model} from the cache; the model is not loaded "
              f"(only its tokenizer, for the chat template and the token budget)")
        return ReplayOnly(tokenizer, identity, model_window(settings.llm_model)), tokenizer
    from .llm import load_llm, make_generator, preflight

    print(preflight(settings))  # will the LLM fit while labeling?
    tokenizer, model = load_llm(settings.llm_model, settings.quantization, settings.cache_dir,
                                precision=settings.precision)
    generator = make_generator(model, tokenizer)  # notebook 01's pipeline
    generator.identity = lambda: dict(identity)  # the answer cache's key: the settings, not what was loaded
    return generator, tokenizer
