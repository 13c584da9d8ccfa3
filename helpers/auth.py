"""Hugging Face login for gated Llama 2 (notebook 00), from ``HF_TOKEN`` or a Colab secret; the token is never
shown or saved.
"""

from __future__ import annotations

import os
from typing import Optional

from .settings import PACKAGED_CORPUS, PACKAGED_EMBEDDINGS, PACKAGED_LLM, Settings

LLAMA2_ACCESS_URL = "https://huggingface.co/meta-llama/Llama-2-13b-chat-hf"
TOKENS_URL = "https://huggingface.co/settings/tokens"


def hub_resources(settings: Settings) -> list[str]:
    """The models and datasets of ``settings`` that come from the Hugging Face Hub."""
    packaged = {PACKAGED_CORPUS, PACKAGED_EMBEDDINGS, PACKAGED_LLM}
    from .data import is_file_source

    names = [settings.dataset, settings.embedding_model, settings.llm_model]
    return [n for n in names if n not in packaged and not (n == settings.dataset and is_file_source(n))]


def colab_secret(name: str = "HF_TOKEN") -> Optional[str]:
    """A secret from Colab's key panel, or ``None`` outside Colab or when not granted."""
    try:
        from google.colab import userdata  # type: ignore
    except ImportError:
        return None
    try:
        return userdata.get(name)
    except Exception:  # secret missing or notebook not granted access
        return None


def token_source() -> Optional[str]:
    """Where a token is found ("environment" or "Colab secret", then copied into ``HF_TOKEN``), never the token."""
    if os.environ.get("HF_TOKEN"):
        return "environment"
    secret = colab_secret()
    if secret:
        os.environ["HF_TOKEN"] = secret
        return "Colab secret"
    return None


def login_status(settings: Settings) -> str:
    """One sentence on the login: skipped, token found (and where), or what to do; in Colab without a token it
    opens ``huggingface_hub.notebook_login()``."""
    needed = hub_resources(settings)
    if not needed:
        return f"Profile {settings.profile!r} uses only packaged parts: no Hugging Face login needed, skipped."
    source = token_source()
    if source:
        return f"Hugging Face token found ({source}); it stays in this kernel's environment and is never shown."
    from .machine import running_in_colab

    if running_in_colab():
        from huggingface_hub import notebook_login

        notebook_login()
        return "No HF_TOKEN secret found: log in with the form above (your token is not saved in the notebook)."
    return (
        f"No Hugging Face token found, needed for {', '.join(needed)}. Create one at {TOKENS_URL}, then add it "
        f"as the Colab secret HF_TOKEN, set the HF_TOKEN environment variable, or run "
        f"huggingface_hub.notebook_login(); for Llama 2 also request access at {LLAMA2_ACCESS_URL}."
    )
