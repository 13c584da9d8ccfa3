"""Telling an API key from the name of its variable, and keeping keys out of what is shown or saved (plumbing; no
notebook teaches it)."""

from __future__ import annotations

import re
from typing import Any, Optional
from urllib.parse import urlsplit, urlunsplit


ENV_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")


def looks_like_a_key(text: str) -> bool:
    """True for text shaped like a key, not a name: over 64 characters, or 16+ letters and digits mixed."""
    runs = re.findall(r"[A-Za-z0-9]{16,}", text)
    return len(text) > 64 or any(re.search(r"[A-Za-z]", r) and re.search(r"[0-9]", r) for r in runs)


def check_key_variable_name(name: str, knob: str = "llm_api_key_env") -> None:
    """Raise ``ValueError`` unless ``name`` is an UPPER_SNAKE variable name, without repeating it (it may be a pasted
    key)."""
    if not ENV_NAME.fullmatch(name) or looks_like_a_key(name):
        raise ValueError(f"{knob} is the name of an environment variable in UPPER_SNAKE case (e.g. "
                         "OPENAI_API_KEY), not the key itself: put the key in that variable and give its name.")


# a key in a URL's query (``?api_key=...``, ``?code=``); ``?api-version=...`` is none
QUERY_SECRET = re.compile(r"([?&;](?:[\w.-]*(?:key|token|secret|passw(?:or)?d|pwd|auth|sig|signature|credential)[\w.-]*|"
                          r"code|sas)=)[^&#\s]+", re.I)
# ``user:password@`` in an address without a scheme
SCHEMELESS_USER = re.compile(r"^[^/\s@:]+:[^/\s@]+@")
# API keys known by their vendor's prefix
KEY_SHAPE = re.compile(r"(?<![A-Za-z0-9])(?:sk-[A-Za-z0-9_-]{16,}|hf_[A-Za-z0-9]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|"
                       r"github_pat_[A-Za-z0-9_]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|AIza[\w-]{35})")
LONG_TOKEN = re.compile(r"[A-Za-z0-9]{32,}")  # a hex or base62 key given bare


def redact_url(url: Optional[str]) -> Optional[str]:
    """``url`` with user, password and query keys replaced by ``***``, for anything shown or saved; other text
    unchanged."""
    if not isinstance(url, str):
        return url
    url = QUERY_SECRET.sub(lambda m: m.group(1) + "***", url) if "=" in url else url
    if "@" not in url:
        return url
    if "://" not in url:  # urlsplit would read "admin" of "admin:pass@host" as the scheme
        return SCHEMELESS_USER.sub("***@", url)
    parts = urlsplit(url)
    if not parts.netloc or "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]))


def url_has_credentials(url: Optional[str]) -> bool:
    """True when :func:`redact_url` would hide something in ``url``."""
    return redact_url(url) != url


def holds_credentials(text: Any) -> bool:
    """True when ``text`` holds a credential: in a URL, a vendor-prefixed key (``sk-``, ``hf_``, ...), or, outside paths
    and URLs, 32+ mixed letters and digits."""
    if not isinstance(text, str):
        return False
    if url_has_credentials(text) or KEY_SHAPE.search(text):
        return True
    if any(c in text for c in "/\\."):  # a path, file or URL: a hash in it is no key
        return False
    return any(re.search(r"[A-Za-z]", run) and re.search(r"[0-9]", run) for run in LONG_TOKEN.findall(text))


def credential_paths(value: Any, where: str = "") -> list[str]:
    """Paths (``more_settings.llm_base_url``) in ``value``, at any depth, holding a credential; ``*_api_key_env`` values
    are left to :func:`check_key_variable_name`."""
    if isinstance(value, dict):
        return [p for k, v in value.items() if not str(k).endswith("_api_key_env")
                for p in credential_paths(v, f"{where}.{k}" if where else str(k))]
    if isinstance(value, (list, tuple)):
        return [p for i, v in enumerate(value) for p in credential_paths(v, f"{where}[{i}]")]
    return [where] if holds_credentials(value) else []
