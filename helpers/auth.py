"""Hugging Face login, without ever showing a token.

Llama 2 is gated: the Hub serves it only to accounts that accepted Meta's licence,
identified by an access token. The token is looked up in the environment (``HF_TOKEN``)
or in Colab's secrets and handed to ``huggingface_hub`` through the process
environment; it is never printed, logged, returned in a message or saved.
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
    """Where a token is available ("environment" or "Colab secret"), never the token itself.

    A Colab secret is copied into this kernel's ``HF_TOKEN`` so that every Hub call
    of the session finds it.
    """
    if os.environ.get("HF_TOKEN"):
        return "environment"
    secret = colab_secret()
    if secret:
        os.environ["HF_TOKEN"] = secret
        return "Colab secret"
    return None


def login_status(settings: Settings) -> str:
    """One sentence on the login: skipped offline, token found (and where), or what to do.

    In Colab without a token it opens ``huggingface_hub.notebook_login()``, the
    reference's interactive login, whose widget does not keep the token in the notebook.
    """
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
