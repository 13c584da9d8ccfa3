"""The labeler's LLM from the settings: with replay_only nothing is loaded and no server is asked, and the
answers a loaded model recorded replay from the settings alone (issue 25, item 7)."""

import pytest

from helpers.settings import PACKAGED_LLM, resolve_settings


def _refuse(what):
    def refused(*args, **kwargs):
        raise AssertionError(f"replay_only must not call {what}")
    return refused


@pytest.fixture
def nothing_loads(monkeypatch):
    import helpers.llm
    import helpers.serving

    for name in ("load_llm", "make_generator", "preflight", "model_path", "materialize_gguf"):
        monkeypatch.setattr(helpers.llm, name, _refuse(name))
    monkeypatch.setattr(helpers.serving.ChatServer, "check", _refuse("ChatServer.check"))


def test_replay_only_loads_no_model_runs_no_preflight_and_asks_no_server(tmp_path, nothing_loads, capsys):
    from helpers.labeler import ReplayOnly, open_labeler
    from helpers.serving import free_port

    settings = resolve_settings("offline", replay_only=True, cache_dir=str(tmp_path))
    generator, tokenizer = open_labeler(settings)
    assert isinstance(generator, ReplayOnly) and generator.tokenizer is tokenizer and tokenizer.chat_template
    assert "the model is not loaded" in capsys.readouterr().out
    assert not list(tmp_path.iterdir()), "nothing converted or written into the cache"
    with pytest.raises(LookupError, match="replay_only is on"):
        generator(["a prompt"])

    url = f"http://someone:FAKE-password-42@127.0.0.1:{free_port()}/v1"  # nothing listens there
    server = resolve_settings("offline", llm_backend="openai", llm_base_url=url, replay_only=True)
    generator, _ = open_labeler(server)
    printed = capsys.readouterr().out
    assert "is not asked" in printed and "FAKE-password-42" not in printed


def test_answers_a_loaded_model_recorded_replay_from_the_settings_alone(tmp_path, monkeypatch):
    """Recorded with the model loaded (default cache, where it was converted); replayed with replay_only from
    another cache folder: the identity holds no dtype, bitsandbytes config or model folder, so it matches."""
    from helpers.labeler import open_labeler
    from helpers.batched_generation import BatchedTextGeneration
    from helpers.prompts import build_keyword_prompt, fill_prompt

    prompts = [fill_prompt(build_keyword_prompt(PACKAGED_LLM, None), [], words)
               for words in (["goal", "striker", "league"], ["bank", "rates", "inflation"])]

    def labeler(generator, replay_only=False):
        return BatchedTextGeneration(generator, prompt="", max_new_tokens=8, show_progress=False,
                                     cache_dir=tmp_path / "answers", replay_only=replay_only)

    generator, _ = open_labeler(resolve_settings("offline"))
    recording = labeler(generator)
    recorded = recording.generate(prompts)
    assert recording.generated_ == 2 and all(answers[0].strip() for answers in recorded)

    import helpers.llm

    monkeypatch.setattr(helpers.llm, "load_llm", _refuse("load_llm"))
    elsewhere = tmp_path / "laptop-cache"
    replayer, _ = open_labeler(resolve_settings("offline", replay_only=True, cache_dir=str(elsewhere)))
    replaying = labeler(replayer, replay_only=True)
    assert replaying.generate(prompts) == recorded
    assert (replaying.replayed_, replaying.generated_) == (2, 0)
    assert not elsewhere.exists(), "no model converted for the replay"
    with pytest.raises(LookupError, match=r"1 of 1 prompts have no recorded answer"):
        labeler(replayer, replay_only=True).generate(["a prompt never asked"])
