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
    from helpers.open_llm import ReplayOnly, open_labeler
    from tools.servers import free_port

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
    from helpers.open_llm import open_labeler
    from helpers.labeler import BatchedTextGeneration
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


def test_server_answers_sampled_with_another_seed_are_not_replayed():
    """Issue 37 (10a): the server samples the extra candidates with seed + k (and sends the seed with the greedy
    one): answers recorded with one seed are another run's, never replayed for another seed."""
    from helpers.labeler._cache import generator_identity
    from helpers.serving import ChatServer
    from tools.servers import free_port

    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing is asked
    identity = lambda seed: generator_identity(ChatServer(url, "served", seed=seed), candidates=3)  # noqa: E731
    assert identity(42) == identity(42) and identity(42) != identity(7)


def test_answers_of_the_packaged_model_are_keyed_by_the_content_of_its_gguf_file(tmp_path, monkeypatch):
    """Issue 37 (10b): an upgraded package (another GGUF file under the same name) is another model: its answers
    are not the old file's. The same content in another folder is the same model (answers replay anywhere)."""
    import helpers.data
    from helpers.open_llm import answer_identity
    from helpers.packaged import GGUF_FILE

    def packaged(folder: str, content: bytes) -> dict:
        (tmp_path / folder).mkdir()
        (tmp_path / folder / GGUF_FILE).write_bytes(content)
        monkeypatch.setattr(helpers.data, "package_dir", lambda name: tmp_path / folder)
        return answer_identity(resolve_settings("offline"))

    old = packaged("old", b"GGUF weights, version 1")
    assert packaged("new", b"GGUF weights, version 2") != old
    assert packaged("copy", b"GGUF weights, version 1") == old
    assert "gguf" not in str(answer_identity(resolve_settings("colab-t4"))), "a Hub model is keyed by its name"


def test_a_replay_cuts_prompts_to_the_window_the_recording_model_cut_them_to(small_llm, tmp_path, nothing_loads):
    """Issue 37 (7): prompts are cut to the model's window, so a replay (no model loaded, only its tokenizer)
    must know the same window, or a cut prompt would not be found again in the cache."""
    from helpers.labeler._window import context_window
    from helpers.open_llm import open_labeler

    replayer, _ = open_labeler(resolve_settings("offline", replay_only=True, cache_dir=str(tmp_path)))
    assert context_window(replayer) == context_window(small_llm[2]) == small_llm[1].config.max_position_embeddings
