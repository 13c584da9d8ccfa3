"""Run settings: profiles (``offline``: packaged models and BBC News, runs anywhere; ``colab-t4``: the reference
Llama-2-13b walk-through on ArXiv abstracts) and knob overrides. Every notebook's ``parameters`` cell holds the knobs
(``None``: the profile's value); :func:`resolve_settings` merges them and rejects typos with a suggestion."""

from __future__ import annotations

import dataclasses
import difflib
import re
from dataclasses import dataclass, fields
from typing import Any, Optional, get_args, get_type_hints

from .credentials import check_key_variable_name, redact_url

PACKAGED_CORPUS = "packaged:bbc-news"
PACKAGED_EMBEDDINGS = "packaged:all-MiniLM-L6-v2"
PACKAGED_LLM = "packaged:SmolLM2-135M-Instruct"

QUANTIZATIONS = ("nf4", "int8", "none")
PRECISIONS = ("auto", "bf16", "fp16", "fp32")  # "auto": what the hardware computes natively
LABEL_METHODS = ("batched", "reference")
LLM_BACKENDS = ("transformers", "openai")  # a model loaded here, or an OpenAI-compatible server
# a SentenceTransformer loaded here, or an OpenAI-compatible /v1/embeddings server
EMBEDDING_BACKENDS = ("sentence-transformers", "openai")
STOP_WORDS = ("english", "none")
# news' house words, stopped with "english"
HOUSE_WORDS = ("said", "says", "mr", "mrs", "ms")


@dataclass(frozen=True)
class Settings:
    """Every knob of the series, resolved to a concrete value (every notebook's ``settings``)."""

    profile: str
    dataset: str
    text_column: str = "abstract"
    title_column: str = "title"
    category_column: Optional[str] = None
    sample_size: Optional[int] = None
    seed: int = 42
    drop_duplicates: bool = False
    encoding: Optional[str] = None
    delimiter: Optional[str] = None
    sheet: Optional[str] = None
    skip_bad_lines: bool = False
    first_line_title: bool = False
    embedding_model: str = PACKAGED_EMBEDDINGS
    embedding_backend: str = "sentence-transformers"
    embedding_base_url: Optional[str] = None
    embedding_api_key_env: str = "OPENAI_API_KEY"  # the variable's name, never the key
    embedding_concurrency: int = 4
    embedding_batch_size: int = 32
    # tokens of each document embedded (None or 0: the model's own window)
    embedding_max_tokens: Optional[int] = None
    llm_model: str = PACKAGED_LLM
    llm_backend: str = "transformers"
    llm_base_url: Optional[str] = None
    llm_api_key_env: str = "OPENAI_API_KEY"  # the variable's name, never the key
    llm_concurrency: int = 4
    quantization: str = "none"
    min_cluster_size: Optional[int] = None
    use_cuml: bool = False
    stop_words: str = "english"
    reduce_frequent_words: bool = True  # c-TF-IDF on the square root of the counts
    top_n_words: int = 10
    nr_docs: int = 4
    label_doc_words: Optional[int] = None
    label_method: str = "batched"
    label_batch_size: int = 8
    label_max_new_tokens: int = 24
    label_candidates: int = 1
    replay_only: bool = False
    precision: str = "auto"
    compare_quantizations: str = "nf4"
    sanity_max_new_tokens: int = 500
    require_gpu: bool = False
    cache_dir: Optional[str] = None

    @property
    def stop_word_list(self) -> Optional[list[str]]:
        """The words kept out of the keywords: scikit-learn's English list plus ``HOUSE_WORDS`` for "english",
        ``None`` (every word, the reference) for "none"."""
        if self.stop_words == "none":
            return None
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        return sorted(ENGLISH_STOP_WORDS | set(HOUSE_WORDS))


PROFILES: dict[str, dict[str, Any]] = {
    "offline": dict(
        dataset=PACKAGED_CORPUS,
        category_column="category",
        embedding_model=PACKAGED_EMBEDDINGS,
        # half the model's window: faster, and closer to the categories (BENCHMARKS.md)
        embedding_max_tokens=128,
        llm_model=PACKAGED_LLM,
        # nf4 ruins a 135M model's answers (notebook 01 shows why)
        quantization="none",
        label_doc_words=60,
        # room for a 2-5 word label
        label_max_new_tokens=16,
        # a 135M model loads in seconds: compare all three (notebook 01)
        compare_quantizations="nf4,int8,none",
        sanity_max_new_tokens=48,
        require_gpu=False,
    ),
    "colab-t4": dict(
        dataset="CShorten/ML-ArXiv-Papers",
        category_column=None,
        embedding_model="BAAI/bge-small-en",
        llm_model="meta-llama/Llama-2-13b-chat-hf",
        quantization="nf4",
        min_cluster_size=150,
        label_doc_words=None,
        # 13B nf4 plus one full-window prompt fits a T4's 15 GB; two would not
        label_batch_size=1,
        # 13B in fp16 needs 26 GB: a T4 holds only the 4-bit load
        compare_quantizations="nf4",
        sanity_max_new_tokens=500,
        require_gpu=True,
    ),
}
# an ungated chat model that fits a free T4 in 4-bit: no licence queue
NON_GATED_CHAT_MODEL = "HuggingFaceH4/zephyr-7b-beta"
PROFILES["colab-t4-open"] = {**PROFILES["colab-t4"], "llm_model": NON_GATED_CHAT_MODEL}

_CHOICES = {
    "quantization": QUANTIZATIONS,
    "precision": PRECISIONS,
    "label_method": LABEL_METHODS,
    "llm_backend": LLM_BACKENDS,
    "embedding_backend": EMBEDDING_BACKENDS,
    "stop_words": STOP_WORDS,
}


def check_embedding_backend(values: dict[str, Any]) -> None:
    """Raise ``ValueError`` for ``embedding_backend`` "openai" without ``embedding_base_url``, or a key pasted as
    ``embedding_api_key_env``."""
    if values.get("embedding_backend") == "openai" and not values.get("embedding_base_url"):
        raise ValueError("embedding_backend 'openai' needs embedding_base_url, the server's address, e.g. "
                         "-p embedding_base_url http://127.0.0.1:7997/v1 (docs/servers-and-scale.md: Embeddings from a server).")
    check_key_variable_name(values.get("embedding_api_key_env", "OPENAI_API_KEY"), "embedding_api_key_env")


def check_server_addresses(values: dict[str, Any]) -> None:
    """Raise ``ValueError`` when a ``*_base_url`` lacks ``http(s)://``; the message never repeats it (it may hold a
    password)."""
    for knob in ("llm_base_url", "embedding_base_url"):
        if values.get(knob) and not re.match(r"https?://", values[knob], re.I):
            raise ValueError(f"{knob} is a server's address starting with http:// or https://, e.g. "
                             "http://127.0.0.1:8000/v1; the one given starts with neither.")


def closest_hint(name: str, valid: list[str]) -> str:
    """Return a " Did you mean ...?" hint for ``name`` among ``valid``, or ''."""
    match = difflib.get_close_matches(name, valid, n=1, cutoff=0.5)
    return f" Did you mean {match[0]!r}?" if match else ""


def _coerce(name: str, value: Any, annotation: Any) -> Any:
    """Convert ``value`` to the knob's type (papermill may pass strings)."""
    kinds = [t for t in get_args(annotation) if t is not type(None)] or [annotation]
    kind = kinds[0]
    if value is None:
        if type(None) in get_args(annotation):
            return None
        raise ValueError(f"Parameter {name!r} cannot be None; give a {kind.__name__}.")
    if isinstance(value, str) and value.strip() == "None":  # `-p quantization None` arrives as a string
        spelled = " ('none' is full precision)" if name == "quantization" else ""
        raise ValueError(
            f"Parameter {name!r} got the text 'None': to keep the profile's value leave it out or pass null"
            f"{spelled}."
        )
    if kind is bool:
        if isinstance(value, bool):
            return value
        if str(value).strip().lower() in ("true", "1", "yes"):
            return True
        if str(value).strip().lower() in ("false", "0", "no"):
            return False
    elif kind is int:
        if isinstance(value, bool):
            pass
        elif isinstance(value, int):
            return value
        elif isinstance(value, float) and value.is_integer():
            return int(value)
        elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value.strip())
    elif kind is str:
        if isinstance(value, str):
            return value
    secret = name.endswith(("_api_key_env", "_base_url"))  # may be the key, or a URL with a password
    raise ValueError(
        f"Parameter {name!r} must be a {kind.__name__}, got " + (f"{value!r} " if not secret else "")
        + f"({type(value).__name__}); pass e.g. -p {name} <{kind.__name__}>."
    )


def knob_names() -> list[str]:
    """All knob names a profile may be overridden with (notebook 07 lists them)."""
    return [f.name for f in fields(Settings) if f.name != "profile"]


def resolve_settings(profile: str = "offline", **overrides: Any) -> Settings:
    """Merge a profile with knob overrides (``None``: keep the profile's value) into :class:`Settings` (notebook 07).
    Unknown profiles, knobs or values raise ``ValueError`` with the closest match; "300" -> 300, bad types rejected."""
    if profile not in PROFILES:
        valid = sorted(PROFILES)
        raise ValueError(
            f"Unknown profile {profile!r}. Valid profiles: {', '.join(valid)}."
            + closest_hint(profile, valid)
        )
    unknown = [k for k in overrides if k not in knob_names()]
    if unknown:
        valid = knob_names()
        raise ValueError(
            f"Unknown parameter {unknown[0]!r}. Valid parameters: {', '.join(valid)}."
            + closest_hint(unknown[0], valid)
        )
    values = {**PROFILES[profile], **{k: v for k, v in overrides.items() if v is not None}}
    hints = get_type_hints(Settings)
    values = {k: _coerce(k, v, hints[k]) for k, v in values.items()}
    for name, choices in _CHOICES.items():
        if name in values and values[name] not in choices:
            raise ValueError(
                f"Parameter {name!r} must be one of {', '.join(choices)}, got {values[name]!r}."
                + closest_hint(str(values[name]), list(choices))
            )
    for name in ("sample_size", "label_batch_size", "nr_docs", "label_max_new_tokens",
                 "label_doc_words", "label_candidates", "llm_concurrency", "embedding_concurrency",
                 "embedding_batch_size"):
        if values.get(name) is not None and values[name] < 1:
            raise ValueError(f"Parameter {name!r} must be at least 1, got {values[name]}.")
    if (values.get("embedding_max_tokens") or 0) < 0:
        raise ValueError(f"Parameter 'embedding_max_tokens' must be 0 (the model's whole window) or more, got "
                         f"{values['embedding_max_tokens']}.")
    if values.get("min_cluster_size") is not None and values["min_cluster_size"] < 2:
        raise ValueError(f"Parameter 'min_cluster_size' must be at least 2 (HDBSCAN's smallest cluster has two "
                         f"documents), got {values['min_cluster_size']}; leave it None to scale it to the corpus.")
    if values.get("llm_backend") == "openai":
        if not values.get("llm_base_url"):
            raise ValueError("llm_backend 'openai' needs llm_base_url, the server's address, "
                             "e.g. -p llm_base_url http://127.0.0.1:8000/v1 (docs/servers-and-scale.md: Labels from a server).")
        if values.get("label_method") == "reference":
            raise ValueError("label_method 'reference' runs BERTopic's TextGeneration on a model loaded here; "
                             "with llm_backend 'openai' use label_method 'batched'.")
    check_server_addresses(values)
    check_key_variable_name(values.get("llm_api_key_env", "OPENAI_API_KEY"))
    check_embedding_backend(values)
    if values.get("replay_only") and values.get("label_method") == "reference":
        raise ValueError("replay_only replays the answers label_method 'batched' recorded; 'reference' records none: "
                         "set replay_only False or label_method 'batched'.")
    for kind in values.get("compare_quantizations", "nf4").split(","):
        if kind.strip() not in QUANTIZATIONS:
            raise ValueError(
                f"Parameter 'compare_quantizations' lists {kind!r}; use a comma-separated list of "
                f"{', '.join(QUANTIZATIONS)}." + closest_hint(kind.strip(), list(QUANTIZATIONS))
            )
    return Settings(profile=profile, **values)


def as_dict(settings: Settings) -> dict[str, Any]:
    """The settings as a plain dict to save or print (notebooks 03 and 06), with credentials in the URLs redacted."""
    values = dataclasses.asdict(settings)
    values["llm_base_url"] = redact_url(values["llm_base_url"])
    values["embedding_base_url"] = redact_url(values["embedding_base_url"])
    return values
