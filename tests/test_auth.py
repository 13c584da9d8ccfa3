import pytest

from helpers.auth import hub_resources, login_status
from helpers.settings import resolve_settings

pytestmark = pytest.mark.same_on_any_cpu  # how the token is found and hidden: no precision changes it

TOKEN = "hf_FAKE-test-token-never-real-0123456789"


def test_offline_needs_no_login_and_says_so(monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    assert hub_resources(resolve_settings("offline")) == []
    assert "no Hugging Face login needed, skipped" in login_status(resolve_settings("offline"))


def test_a_token_in_the_environment_is_used_and_never_shown(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    message = login_status(resolve_settings("colab-t4"))
    assert "token found (environment)" in message and TOKEN not in message


def test_no_token_says_where_to_get_one_and_how_to_give_it(monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    message = login_status(resolve_settings("colab-t4"))
    assert "No Hugging Face token found" in message
    assert "https://huggingface.co/settings/tokens" in message and "HF_TOKEN" in message
    assert "meta-llama/Llama-2-13b-chat-hf" in message


def test_in_colab_without_a_token_the_interactive_login_opens(monkeypatch):
    import huggingface_hub

    import helpers.machine as machine

    opened = []
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(machine, "running_in_colab", lambda: True)
    monkeypatch.setattr(huggingface_hub, "notebook_login", lambda: opened.append(True))
    message = login_status(resolve_settings("colab-t4"))
    assert opened == [True] and "log in with the form above" in message
