"""The labeler's LLM as a run's settings ask for it: a model loaded here, a server, or, with
``replay_only``, nothing at all.

Notebooks 03 and 06 call :func:`open_labeler`. Whoever answers, the answer cache
(:class:`helpers.labeler._cache.AnswerCache`) is keyed by :func:`answer_identity`, built from the
settings alone (backend, model name, quantization and precision as set), never from what
was loaded (the resolved dtype, the bitsandbytes config, the folder a model was read from):
answers recorded on a GPU replay on a laptop, in another cache folder, with no GPU and no
server. With ``replay_only`` nothing is loaded, no memory preflight runs and no server is
asked: only the tokenizer is read (a few MB, no weights), since the prompts are rendered in
the model's chat template and the token-budget rule counts an answer's tokens, and the model's
window (:func:`model_window`: known, or its ``config.json``), since prompts are cut to it.
"""

from __future__ import annotations

from typing import Any, Optional

from .credentials import redact_url
from .settings import PACKAGED_LLM, Settings

# the packaged model's max_position_embeddings, known without reading its GGUF (checked in tests/test_labeler.py)
PACKAGED_WINDOW = 8192


def model_window(llm_model: str) -> Optional[int]:
    """``llm_model``'s window (``max_position_embeddings``) without loading or converting it, for a replay that
    must cut its prompts as the recording run did: the packaged model's and the profiles' models' are known,
    another Hub model's is in its ``config.json`` (a small download); ``None`` when that cannot be read."""
    if llm_model == PACKAGED_LLM:
        return PACKAGED_WINDOW
    try:
        from .memory import model_shape

        return model_shape(llm_model).get("max_position_embeddings")
    except (OSError, ValueError):
        return None


def answer_identity(settings: Settings) -> dict[str, Any]:
    """Who answers a model loaded here, for the answer cache, from ``settings`` only: the model's name,
    quantization and precision as set ("auto" stays "auto": the same run on a GPU and on a laptop is the
    same identity). The packaged model's name stays the same when its package brings another GGUF file, so
    its identity also holds that file's content (:func:`helpers.llm.gguf_source`: name and sha256, the key its
    converted folder has too): hashing the 98 MB file takes about 0.5 s, once per process and file version.
    A server's is :meth:`helpers.serving.ChatServer.identity`, made from the settings too."""
    identity = {"backend": "transformers", "model": settings.llm_model, "quantization": settings.quantization,
                "precision": settings.precision}
    if settings.llm_model == PACKAGED_LLM:
        from .data import package_dir
        from .packaged import GGUF_FILE, GGUF_PACKAGE, gguf_source

        identity["gguf"] = gguf_source(package_dir(GGUF_PACKAGE), GGUF_FILE)
    return identity


class ReplayOnly:
    """A generator that never generates: :class:`helpers.labeler.BatchedTextGeneration` with
    ``replay_only`` takes every answer from the cache and refuses (with one sentence) before it
    would call this. It carries the tokenizer, the settings' :func:`answer_identity` and the model's window
    (``max_position_embeddings``: prompts are cut to it as the recording run cut them, and so found again)."""

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
    """The tokenizer of ``llm_model`` alone, no weights: the packaged model's straight from its GGUF file
    (nothing converted or written), a Hub model's tokenizer files."""
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
    """``(generator, tokenizer)`` for notebooks 03 and 06, saying what it did.

    A server (``llm_backend`` "openai") is asked whether it serves the model, the prompts are chat turns
    (:class:`helpers.prompts.ChatMarkup`); a local model gets the memory preflight, then
    ``load_llm`` and ``make_generator``. With ``replay_only`` none of that: :class:`ReplayOnly` and the
    tokenizer. Every generator carries :func:`answer_identity` (its ``identity()``), so the answer cache
    is keyed by the settings, never by what was loaded.
    """
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

    print(preflight(settings))  # will the LLM fit while labeling label_batch_size topics at a time?
    tokenizer, model = load_llm(settings.llm_model, settings.quantization, settings.cache_dir,
                                precision=settings.precision)
    generator = make_generator(model, tokenizer)  # notebook 01's pipeline, with the reference's generation settings
    generator.identity = lambda: dict(identity)  # the answer cache's key: the settings, not the loaded dtype or path
    return generator, tokenizer
