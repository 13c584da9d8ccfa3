"""Credentials: telling a key from the name of the variable that holds it, and keeping keys out of what is shown.

A key is never a setting: ``llm_api_key_env`` names the environment variable that holds it. These checks
let :func:`helpers.settings.resolve_settings` refuse a key pasted as a name, :func:`redact_url` hide a user,
a password or a query key in a server's address, and the runner refuse a parameter that holds a key
(:func:`credential_paths`). Plumbing: no notebook teaches it.
"""

from __future__ import annotations

import re
from typing import Any, Optional
from urllib.parse import urlsplit, urlunsplit


ENV_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")


def looks_like_a_key(text: str) -> bool:
    """True for text shaped like a credential rather than a name: a run of 16 or more letters and digits that
    holds both, or over 64 characters (``OPENAI_API_KEY`` is a name; ``3F9A...C21`` or ``sk-...`` are keys)."""
    runs = re.findall(r"[A-Za-z0-9]{16,}", text)
    return len(text) > 64 or any(re.search(r"[A-Za-z]", r) and re.search(r"[0-9]", r) for r in runs)


def check_key_variable_name(name: str, knob: str = "llm_api_key_env") -> None:
    """Raise unless ``name`` is an UPPER_SNAKE environment-variable name; the message never repeats ``name``
    (it may be the key itself, pasted by mistake)."""
    if not ENV_NAME.fullmatch(name) or looks_like_a_key(name):
        raise ValueError(f"{knob} is the name of an environment variable in UPPER_SNAKE case (e.g. "
                         "OPENAI_API_KEY), not the key itself: put the key in that variable and give its name.")


# a key's value in a URL's query (``?api_key=...``, ``&token=...``, Azure's ``?code=`` and ``?subscription-key=``,
# ``?client_secret=``): as much a credential as ``user:password@``. ``?api-version=2024-02-01`` is none.
QUERY_SECRET = re.compile(r"([?&;](?:[\w.-]*(?:key|token|secret|passw(?:or)?d|pwd|auth|sig|signature|credential)[\w.-]*|"
                          r"code|sas)=)[^&#\s]+", re.I)
# a server's address given without its scheme (``admin:pass@host:8000/v1``): a user and password before its first
# "/" (a file named ``export@2024.csv`` holds none)
SCHEMELESS_USER = re.compile(r"^[^/\s@:]+:[^/\s@]+@")
# what API keys look like: a vendor's prefix with its own separator (OpenAI, Hugging Face, GitHub, Slack, AWS, Google)
KEY_SHAPE = re.compile(r"(?<![A-Za-z0-9])(?:sk-[A-Za-z0-9_-]{16,}|hf_[A-Za-z0-9]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|"
                       r"github_pat_[A-Za-z0-9_]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|AIza[\w-]{35})")
LONG_TOKEN = re.compile(r"[A-Za-z0-9]{32,}")  # a hex or base62 key given bare; a path, a file or a URL is not one


def redact_url(url: Optional[str]) -> Optional[str]:
    """``url`` with any user name and password replaced by ``***`` (``http://***@host:8000/v1``) and any key in
    its query too (``?api_key=***``), for everything shown or saved; other text comes back unchanged."""
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
    """True when ``url`` carries a user name or password (``http://user:password@host``) or a key in its query
    (``http://host/v1?api_key=sk-...``)."""
    return redact_url(url) != url


def holds_credentials(text: Any) -> bool:
    """True when ``text`` carries a credential anywhere: a URL's user name and password or a key in its query
    (:func:`url_has_credentials`), or a value shaped like a key: a vendor's key prefix (``sk-``, ``hf_``,
    ``ghp_``, ...) with a long tail, or, in a value that is no path, file or URL, a run of 32 or more letters
    and digits, both mixed."""
    if not isinstance(text, str):
        return False
    if url_has_credentials(text) or KEY_SHAPE.search(text):
        return True
    if any(c in text for c in "/\\."):  # a path, a file name or a URL: a commit hash or a digest in it is no key
        return False
    return any(re.search(r"[A-Za-z]", run) and re.search(r"[0-9]", run) for run in LONG_TOKEN.findall(text))


def credential_paths(value: Any, where: str = "") -> list[str]:
    """Where in ``value`` (a parameter's value: text, or a mapping or list at any depth, e.g. ``more_settings``)
    a credential sits (:func:`holds_credentials`), as ``name`` or ``more_settings.llm_base_url`` paths. The
    values of ``*_api_key_env`` knobs are left to :func:`check_key_variable_name`, which says more."""
    if isinstance(value, dict):
        return [p for k, v in value.items() if not str(k).endswith("_api_key_env")
                for p in credential_paths(v, f"{where}.{k}" if where else str(k))]
    if isinstance(value, (list, tuple)):
        return [p for i, v in enumerate(value) for p in credential_paths(v, f"{where}[{i}]")]
    return [where] if holds_credentials(value) else []
