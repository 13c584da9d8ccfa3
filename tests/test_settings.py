import pytest

from helpers.settings import PROFILES, resolve_settings

pytestmark = pytest.mark.same_on_any_cpu  # settings: no precision changes it


def test_offline_is_the_default_and_uses_only_packaged_parts():
    s = resolve_settings()
    assert s.profile == "offline"
    assert s.dataset.startswith("packaged:") and s.llm_model.startswith("packaged:")
    assert s.embedding_model.startswith("packaged:")


def test_colab_profile_is_the_reference_setup():
    s = resolve_settings("colab-t4")
    assert s.llm_model == "meta-llama/Llama-2-13b-chat-hf"
    assert s.embedding_model == "BAAI/bge-small-en"
    assert s.dataset == "CShorten/ML-ArXiv-Papers"
    assert (s.quantization, s.min_cluster_size, s.require_gpu) == ("nf4", 150, True)


def test_overrides_win_knob_by_knob_and_none_keeps_the_profile_value():
    s = resolve_settings("colab-t4", llm_model="my/model", quantization=None, sample_size=500)
    assert (s.llm_model, s.quantization, s.sample_size) == ("my/model", "nf4", 500)


def test_unknown_profile_lists_valid_ones_and_suggests_the_closest():
    with pytest.raises(ValueError, match=r"Unknown profile 'colab'. Valid profiles: colab-t4, colab-t4-open, offline\. Did you mean 'colab-t4'\?"):
        resolve_settings("colab")


def test_unknown_parameter_suggests_the_closest():
    with pytest.raises(ValueError, match=r"Unknown parameter 'min_clster_size'.*Did you mean 'min_cluster_size'\?"):
        resolve_settings("offline", min_clster_size=5)


def test_papermill_strings_are_converted_when_unambiguous():
    s = resolve_settings("offline", sample_size="300", seed=7.0, require_gpu="false")
    assert (s.sample_size, s.seed, s.require_gpu) == (300, 7, False)


def test_wrong_type_says_what_to_pass():
    with pytest.raises(ValueError, match=r"Parameter 'sample_size' must be a int, got 'many'"):
        resolve_settings("offline", sample_size="many")


def test_choices_are_checked():
    with pytest.raises(ValueError, match=r"'quantization' must be one of nf4, int8, none, got 'nf8'.*Did you mean"):
        resolve_settings("offline", quantization="nf8")
    with pytest.raises(ValueError, match=r"compare_quantizations"):
        resolve_settings("offline", compare_quantizations="nf4,fp8")


def test_every_profile_resolves_to_its_own_values():
    from dataclasses import asdict

    for name, values in PROFILES.items():
        resolved = asdict(resolve_settings(name))
        assert resolved["profile"] == name
        assert {k: resolved[k] for k in values} == values, name


@pytest.mark.parametrize("name, value", [("label_max_new_tokens", -5), ("label_doc_words", 0), ("label_candidates", 0)])
def test_out_of_range_label_knobs_are_refused_at_the_parameters_cell(name, value):
    with pytest.raises(ValueError, match=rf"Parameter '{name}' must be at least 1, got {value}\."):
        resolve_settings(**{name: value})


def test_precision_is_one_of_the_known_ones():
    assert resolve_settings().precision == "auto"
    with pytest.raises(ValueError, match=r"'precision' must be one of auto, bf16, fp16, fp32.*Did you mean 'bf16'\?"):
        resolve_settings(precision="bf61")


def test_the_text_None_is_not_taken_for_the_profiles_value_nor_for_full_precision():
    # `-p quantization None` reaches the notebook as the text "None"; "none" means full precision
    with pytest.raises(ValueError, match=r"'quantization' got the text 'None': .*pass null \('none' is full precision\)"):
        resolve_settings("colab-t4", quantization="None")
    assert resolve_settings("colab-t4", quantization=None).quantization == "nf4"
    assert resolve_settings("colab-t4", quantization="none").quantization == "none"


@pytest.mark.parametrize("value", ["3f9a1c0e5b7d2a4f6e8c0b1d3f5a7c9e", "3F9A1C0E5B7D2A4F6E8C0B1D3F5A7C9E",
                                   "A3F9A1C0E5B7D2A4F6E8C0B1D", "sk-FAKE-key-0123456789", "openai_api_key", "My Key"])
def test_llm_api_key_env_is_an_upper_snake_variable_name_never_a_key(value):
    """A 32-hex key passes ``isalnum()``: it would have been saved in settings.json and printed."""
    with pytest.raises(ValueError, match=r"UPPER_SNAKE case \(e.g. OPENAI_API_KEY\), not the key itself") as error:
        resolve_settings("offline", llm_api_key_env=value)
    assert value not in str(error.value)
    assert resolve_settings("offline", llm_api_key_env="MY_SERVER_KEY_2").llm_api_key_env == "MY_SERVER_KEY_2"


def test_credentials_in_the_server_url_are_redacted_in_what_is_saved_or_shown():
    import json

    from helpers.serving import ChatServer
    from helpers.credentials import redact_url
    from helpers.settings import as_dict

    url = "http://someone:FAKE-password-42@127.0.0.1:8000/v1"
    settings = resolve_settings("offline", llm_backend="openai", llm_base_url=url)
    assert settings.llm_base_url == url, "the notebook still reaches the server"
    saved = json.dumps(as_dict(settings))  # what notebook 03 writes to settings.json and 00 displays
    assert "FAKE-password-42" not in saved and "someone" not in saved
    assert as_dict(settings)["llm_base_url"] == "http://***@127.0.0.1:8000/v1" == redact_url(url)
    server = ChatServer(url, "m", retries=0)
    assert "FAKE-password-42" not in repr(server) + server.shown_url
    assert redact_url("http://127.0.0.1:8000/v1") == "http://127.0.0.1:8000/v1" and redact_url(None) is None


@pytest.mark.parametrize("value", [1, 0])
def test_min_cluster_size_below_two_is_refused_before_hdbscan_sees_it(value):
    with pytest.raises(ValueError, match=rf"'min_cluster_size' must be at least 2 .*got {value}; leave it None"):
        resolve_settings("offline", min_cluster_size=value)
    assert resolve_settings("offline", min_cluster_size=2).min_cluster_size == 2


def test_replay_only_needs_the_method_that_records_answers():
    with pytest.raises(ValueError, match=r"replay_only replays the answers label_method 'batched' recorded"):
        resolve_settings("offline", replay_only=True, label_method="reference")


def test_a_key_in_a_urls_query_is_a_credential_and_is_redacted():
    """Issue 37, item 4: `http://h/v1?api_key=sk-abc` passed url_has_credentials."""
    from helpers.credentials import holds_credentials, redact_url, url_has_credentials

    for url in ("http://h/v1?api_key=sk-abc", "http://h/v1?x=1&token=abc", "https://h/v1?key=abc#top"):
        assert url_has_credentials(url), url
        assert "abc" not in redact_url(url) and "***" in redact_url(url)
    assert not url_has_credentials("http://127.0.0.1:8000/v1") and not url_has_credentials("http://h/v1?model=x")
    assert holds_credentials("sk-proj-FAKEFAKEFAKE0123456789") and holds_credentials("hf_FAKEfakeFAKEfake01234")
    assert not holds_credentials("meta-llama/Llama-2-13b-chat-hf") and not holds_credentials("OPENAI_API_KEY")


def test_keys_in_any_query_name_and_a_password_without_a_scheme_are_redacted():
    """Azure's ``?code=`` and ``?subscription-key=``, ``?x-api-key=``, ``?client_secret=`` are keys too; an address
    given as ``admin:pass@host`` has its password before the host; ``?api-version=`` and a file named with an "@"
    hold none."""
    from helpers.credentials import holds_credentials, redact_url

    for url in ("https://x.azurewebsites.net/v1?code=FAKEzx8", "http://h/v1?subscription-key=FAKEzx8&api-version=1",
                "http://h/v1?x-api-key=FAKEzx8", "http://h?client_secret=FAKEzx8", "admin:FAKEzx8@host:8000/v1"):
        assert "FAKEzx8" not in redact_url(url) and "***" in redact_url(url) and holds_credentials(url), url
    assert redact_url("http://h/v1?subscription-key=FAKEzx8&api-version=1").endswith("&api-version=1")
    for text in ("http://h/v1?api-version=2024-02-01", "export@2024.csv", "user@host/v1"):
        assert redact_url(text) == text and not holds_credentials(text), text


def test_a_server_address_without_its_scheme_or_a_key_name_of_the_wrong_type_is_one_sentence_without_it():
    for knob in ("llm_base_url", "embedding_base_url"):
        with pytest.raises(ValueError, match=f"{knob} is a server's address starting with http") as error:
            resolve_settings("offline", **{knob: "admin:FAKEzx8@host:8000/v1"})
        assert "FAKEzx8" not in str(error.value)
    assert resolve_settings("offline", llm_base_url="HTTPS://h/v1").llm_base_url == "HTTPS://h/v1"
    with pytest.raises(ValueError, match="'llm_api_key_env' must be a str") as error:  # YAML read a bare key as an int
        resolve_settings("offline", llm_api_key_env=81234567890123456789)
    assert "81234567890123456789" not in str(error.value)


def test_a_run_folder_from_before_the_embedding_window_setting_reopens_uncapped():
    """A folder whose settings.json has no embedding_max_tokens was embedded with the model's whole window: 04-06
    reopen it so (0), and find its cached embeddings; a folder that has it keeps its own (the offline 128)."""
    import dataclasses

    from helpers.runs import session_settings

    saved = dataclasses.asdict(resolve_settings("offline"))
    assert session_settings(saved).embedding_max_tokens == 128
    del saved["embedding_max_tokens"]
    assert session_settings(saved).embedding_max_tokens == 0


def test_a_negative_embedding_window_is_one_sentence():
    with pytest.raises(ValueError, match="embedding_max_tokens"):
        resolve_settings("offline", embedding_max_tokens=-1)
