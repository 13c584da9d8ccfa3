"""Labels from an OpenAI-compatible server: a real `transformers serve` on 127.0.0.1 with the offline model."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from helpers.labeler import BatchedTextGeneration
from helpers.llm import model_path
from helpers.prompts import ChatMarkup, build_keyword_prompt, build_prompt, chat_messages, fill_prompt, parse_chat
from helpers.serving import ChatServer
from helpers.settings import PACKAGED_LLM, resolve_settings
from tools.run import RUNNER
from tools.servers import LocalServer, free_port

FAKE_KEY = "sk-FAKE-server-key-never-real-0123456789"


def offline_server(port: int, log: Path) -> LocalServer:
    """`transformers serve <the offline model's folder>` (materialized once) on 127.0.0.1."""
    return LocalServer(model_path(PACKAGED_LLM), port, log)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = offline_server(free_port(), tmp_path_factory.mktemp("serve") / "serve.log").start()
    yield running
    running.stop()


def topic_prompts(tokenizer, n: int = 6) -> list[str]:
    """Filled labeling prompts for ``n`` BBC categories: the main prompt and the short keywords prompt."""
    from helpers.data import load_corpus

    corpus = load_corpus("packaged:bbc-news", "abstract", "title", "category", 120, 42, False)
    prompts = []
    for category, rows in list(corpus.groupby("category"))[:n]:
        docs = [" ".join(text.split()[:40]) for text in rows.abstract[:3]]
        keywords = pd.Series(" ".join(rows.abstract).lower().split()).value_counts().index[20:30].tolist()
        prompts.append(fill_prompt(build_prompt(PACKAGED_LLM, tokenizer), docs, keywords))
        prompts.append(fill_prompt(build_keyword_prompt(PACKAGED_LLM, tokenizer), [], keywords))
    return prompts


def labeler(generator, cache_dir, **kwargs) -> BatchedTextGeneration:
    return BatchedTextGeneration(generator, prompt="", batch_size=4, max_new_tokens=16, candidates=1,
                                 cache_dir=cache_dir, show_progress=False, **kwargs)


# --- without a server ---------------------------------------------------------------------------------------

def test_chat_markup_gives_back_exactly_the_turns_the_local_template_renders():
    filled = fill_prompt(build_prompt(PACKAGED_LLM, ChatMarkup()), ["A <b>doc</b>\nwith two lines."], ["a", "b"])
    expected = [dict(m, content=fill_prompt(m["content"], ["A <b>doc</b>\nwith two lines."], ["a", "b"]))
                for m in chat_messages()]
    assert parse_chat(filled) == expected
    # Llama-2 too: the server renders its [INST] template from the turns
    assert parse_chat(build_prompt("meta-llama/Llama-2-13b-chat-hf", ChatMarkup()))[0]["role"] == "system"
    with pytest.raises(ValueError, match="ChatMarkup"):
        parse_chat("<s>[INST] hello [/INST]")


def test_server_settings_are_checked_with_one_sentence():
    with pytest.raises(ValueError, match=r"needs llm_base_url.*127\.0\.0\.1:8000/v1"):
        resolve_settings("offline", llm_backend="openai")
    with pytest.raises(ValueError, match="use label_method 'batched'"):
        resolve_settings("offline", llm_backend="openai", llm_base_url="http://x/v1", label_method="reference")
    with pytest.raises(ValueError, match="not the key") as error:
        resolve_settings("offline", llm_api_key_env=FAKE_KEY)
    assert FAKE_KEY not in str(error.value)
    with pytest.raises(ValueError, match="one of transformers, openai"):
        resolve_settings("offline", llm_backend="vllm")


def test_an_unreachable_server_is_one_sentence_with_the_url_and_how_to_start_one(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    client = ChatServer(url, "any", retries=0, timeout=5)
    with pytest.raises(ConnectionError) as error:
        client.check()
    assert url in str(error.value) and "transformers serve" in str(error.value)
    with pytest.raises(ConnectionError):
        labeler(client, tmp_path).generate(topic_prompts(ChatMarkup(), 1))
    assert not list(tmp_path.rglob("*.json")), "nothing is recorded for answers that never came"


class FakeCompletions:
    """What an OpenAI-compatible server does with a chat request: ``stop`` ends the answer at the first stop
    string (however early, as vLLM and ``transformers serve`` do), ``max_tokens`` cuts it (here one
    character a token) with ``finish_reason`` "length". It answers ``text`` to any request."""

    def __init__(self, text):
        self.text, self.requests = text, []

    def create(self, model, messages, max_tokens, temperature, seed, stop=None, **kwargs):
        from types import SimpleNamespace

        self.requests.append(dict(max_tokens=max_tokens, stop=stop))
        text, reason = self.text, "stop"
        for end in stop or []:
            text = text.split(end)[0]
        if len(text) > max_tokens:
            text, reason = text[:max_tokens], "length"
        return SimpleNamespace(choices=[SimpleNamespace(message=SimpleNamespace(content=text), finish_reason=reason)])


CHAT = ChatMarkup().apply_chat_template([{"role": "user", "content": "Name the topic"}])


def fake_server(text: str) -> ChatServer:
    from types import SimpleNamespace

    server = ChatServer(f"http://127.0.0.1:{free_port()}/v1", "fake", retries=0)
    server.client = SimpleNamespace(chat=SimpleNamespace(completions=FakeCompletions(text)))
    return server


def test_a_server_answer_starting_with_a_newline_is_its_next_line_not_empty():
    server = fake_server("\nStock markets\nThese documents are about shares.")
    assert server.ask(CHAT, 24) == "\nStock markets\n"
    assert server.client.chat.completions.requests[0]["stop"] is None, "cut here, after the leading newline"


def test_the_token_budget_rule_holds_for_a_server_too():
    """A server has no tokenizer here: its finish_reason says the budget cut an answer, and the rubric sees it."""
    import pandas as pd

    from helpers.labeler._rubric import CUT

    docs = ["Best film Oscar nominations were announced, with The Aviator leading."] * 3
    prompt = ChatMarkup().apply_chat_template([{"role": "user", "content": "Docs: [DOCUMENTS] Keywords: [KEYWORDS]"}])
    server = fake_server("Best film Oscar nominations for The Aviator")
    llm = BatchedTextGeneration(server, prompt, key_phrases=0, max_new_tokens=23, candidates=1, show_progress=False)
    documents = pd.DataFrame({"Document": docs, "Topic": [0] * 3, "ID": range(3)})
    from test_labels import FakeTopicModel

    llm.extract_topics(FakeTopicModel(), documents, None, {0: [("oscar", 0.5), ("film", 0.4)]})
    record = llm.records_[0]
    assert record["raw"] == "Best film Oscar nominat" and record["candidates"][0]["budget_hit"]
    assert not record["label"].endswith("nominat"), record["label"]
    assert label_failures_of("Best film Oscar nominat", budget_hit=True) == [CUT]
    # an answer the model ended itself, under the budget, is no budget cut
    assert not server.budget_was_hit(server.ask(CHAT, 200), 200)


def label_failures_of(text, **kwargs):
    from helpers.labeler._rubric import label_failures

    return label_failures(text, answer=text, **kwargs)


def test_a_failing_server_reports_at_once_and_what_finished_is_kept():
    """One request fails while another is still running (it would take 5 s): the error comes at once,
    with every answer that finished by then given first, even one that finished after the failure."""
    import threading
    import time

    release = threading.Event()

    class Failing(ChatServer):
        def candidates(self, prompt, max_new_tokens, n=1):
            if prompt == "fails":
                time.sleep(0.1)
                raise ConnectionError("The LLM server at ... does not answer")
            if prompt == "hangs":
                release.wait(5)
                return ["late\n"]
            time.sleep({"first": 0.0, "meanwhile": 0.15}[prompt])
            return [f"{prompt}\n"]

    server = Failing(f"http://127.0.0.1:{free_port()}/v1", "fake", concurrency=4)
    got, start = {}, time.time()
    try:
        with pytest.raises(ConnectionError, match="does not answer"):
            for key, answers in server.stream_answers({0: "first", 1: "fails", 2: "meanwhile", 3: "hangs"}, 16):
                got[key] = answers
                time.sleep(0.35)  # the labeler records it; meanwhile one request fails and another finishes
        waited = time.time() - start
    finally:
        release.set()
    assert got == {0: ["first\n"], 2: ["meanwhile\n"]}
    assert waited < 2, f"waited {waited:.1f} s for a request still running"


# --- against a real server ----------------------------------------------------------------------------------

def test_the_server_answers_and_refuses_a_model_it_does_not_serve(server):
    assert "answers" in ChatServer(server.url, server.model).check()
    with pytest.raises(LookupError, match="set llm_model to one of them"):
        ChatServer(server.url, "no-such-model").check()


def topic_groups(tokenizer, n: int = 5) -> dict[str, dict]:
    """``n`` BBC categories as groups for ``label_groups``: the filled main prompt (in the chat template of
    ``tokenizer``), keywords, documents, titles and their (hashed bag-of-words) vectors."""
    from helpers.data import load_corpus
    from helpers.label_similarity import unit_rows

    corpus = load_corpus("packaged:bbc-news", "abstract", "title", "category", 120, 42, False)
    groups = {}
    for category, rows in list(corpus.groupby("category"))[:n]:
        docs = [" ".join(text.split()[:40]) for text in rows.abstract]
        keywords = pd.Series(" ".join(rows.abstract).lower().split()).value_counts().index[20:30].tolist()
        groups[category] = dict(prompt=fill_prompt(build_prompt(PACKAGED_LLM, tokenizer), docs[:3], keywords),
                                keywords=keywords, documents=docs, titles=rows.title.tolist(), vectors=unit_rows(hashed(docs)))
    return groups


def hashed(texts):
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(n_features=512).transform(texts).toarray()


def test_greedy_labels_from_the_server_equal_the_local_backends(server, small_llm, tmp_path):
    """The same final labels, not just the same first lines: the cleaning, the token-budget rule (the local
    path counts tokens, the server says finish_reason) and the choice agree."""
    tokenizer, _, generator = small_llm
    local = labeler(generator, None).label_groups(topic_groups(tokenizer), hashed)
    remote = labeler(ChatServer(server.url, server.model, concurrency=4), None).label_groups(
        topic_groups(ChatMarkup()), hashed)
    decisions = lambda records: [(r["label"], r["source"], [(c["text"], c["budget_hit"], c["failures"])  # noqa: E731
                                                          for c in r["candidates"]]) for r in records]
    assert decisions(remote) == decisions(local)
    assert sum(r["source"] == "llm" for r in remote) >= 2, [r["label"] for r in remote]


def test_answers_are_recorded_and_replayed_without_the_server(server, tmp_path):
    prompts = topic_prompts(ChatMarkup(), 3)
    first = labeler(ChatServer(server.url, server.model), tmp_path)
    answers = first.generate(prompts)
    assert (first.generated_, first.replayed_) == (len(prompts), 0)
    # replayed on a machine where nothing listens: keyed by backend, model and settings, not by the URL
    elsewhere = ChatServer(f"http://127.0.0.1:{free_port()}/v1", server.model, retries=0)
    again = labeler(elsewhere, tmp_path, replay_only=True)
    assert again.generate(prompts) == answers and (again.generated_, again.replayed_) == (0, len(prompts))
    with pytest.raises(LookupError, match="replay_only"):
        labeler(elsewhere, tmp_path, replay_only=True).generate(prompts + [prompts[0] + " "])
    # another model, or other generation settings, never replays these answers
    other = labeler(ChatServer(server.url, "another-model"), tmp_path, replay_only=True)
    with pytest.raises(LookupError):
        other.generate(prompts)


def open_handles(path: Path) -> list[str]:
    """This process's file descriptors open on ``path`` (Linux: /proc/self/fd)."""
    fds = Path("/proc/self/fd")
    found = []
    for fd in fds.iterdir():
        try:
            if os.readlink(fd) == str(path.resolve()):
                found.append(fd.name)
        except OSError:  # the descriptor listing the folder itself is gone by now
            pass
    return found


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="reads this process's open files from /proc")
def test_a_local_server_interrupted_or_failing_while_starting_is_stopped_and_its_log_closed(tmp_path, monkeypatch):
    """Ctrl-C during the health wait, a health wait that runs out, and a plain stop: no `transformers serve` left
    running, no log handle left open."""
    import io
    import urllib.request

    log, started = tmp_path / "serve.log", []
    own = offline_server(free_port(), log)

    def interrupted(*args, **kwargs):  # the first health check: the process has started
        started.append(own.process)
        raise KeyboardInterrupt

    try:
        monkeypatch.setattr(urllib.request, "urlopen", interrupted)
        with pytest.raises(KeyboardInterrupt):
            own.start()
        assert started and started[0].poll() is not None, "transformers serve still runs after Ctrl-C"
        assert open_handles(log) == [], "the log stays open after Ctrl-C"
        with pytest.raises(TimeoutError):
            own.start(timeout=0)
        assert own.process is not started[0] and own.process.poll() is not None, "still runs after the timeout"
        assert open_handles(log) == [], "the log stays open after a failed start"
        monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: io.BytesIO(b'{"status": "ok"}'))
        own.start()
        assert own.process.poll() is None and len(open_handles(log)) == 1
        own.stop()
        assert own.process.poll() is not None and open_handles(log) == [], "the log stays open after stop"
    finally:
        for process in [*started, own.process]:
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()


@pytest.mark.same_on_any_cpu  # resume from recorded answers
def test_a_run_stopped_by_the_server_going_down_resumes_from_the_recorded_answers(tmp_path):
    own = offline_server(free_port(), tmp_path / "serve.log").start()
    prompts = topic_prompts(ChatMarkup(), 3)

    class StopsAfterTwo(ChatServer):  # the server goes down after its second answer
        asked = 0

        def candidates(self, prompt, max_new_tokens, n=1):
            if StopsAfterTwo.asked == 2:
                own.stop()
            StopsAfterTwo.asked += 1
            return super().candidates(prompt, max_new_tokens, n)

    try:
        with pytest.raises(ConnectionError) as error:
            labeler(StopsAfterTwo(own.url, own.model, concurrency=1, retries=1, timeout=10), tmp_path).generate(prompts)
        assert own.url in str(error.value) and "does not answer" in str(error.value)
        assert len(list(tmp_path.rglob("*.json"))) == 2, "the two answers that came are recorded"
        own.start()
        resumed = labeler(ChatServer(own.url, own.model), tmp_path)
        answers = resumed.generate(prompts)
        assert (resumed.replayed_, resumed.generated_) == (2, len(prompts) - 2)
        assert all(a and a[0] is not None for a in answers)
    finally:
        own.stop()


class RecordingProxy:
    """A forwarding proxy on 127.0.0.1 in front of ``upstream`` (a server's ``/v1`` URL): each request goes on as
    it came, and its method, path and ``Authorization`` header are kept in ``requests``; ``url`` is the proxy's."""

    def __init__(self, upstream: str):
        import threading
        from http.server import ThreadingHTTPServer
        from urllib.parse import urlsplit

        self.upstream, self.requests = urlsplit(upstream), []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def handler(self):
        from http.client import HTTPConnection
        from http.server import BaseHTTPRequestHandler

        proxy, hop = self, {"host", "connection", "transfer-encoding", "content-length", "keep-alive"}

        class Forward(BaseHTTPRequestHandler):
            def forward(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                proxy.requests.append((self.command, self.path, self.headers.get("Authorization")))
                upstream = HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=600)
                upstream.request(self.command, self.path, body=body or None,
                                 headers={k: v for k, v in self.headers.items() if k.lower() not in hop})
                reply = upstream.getresponse()
                data = reply.read()
                self.send_response(reply.status)
                for key, value in reply.getheaders():
                    if key.lower() not in hop:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                upstream.close()

            do_GET = do_POST = forward

            def log_message(self, *args):  # quiet
                pass

        return Forward

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_notebook_03_labels_through_the_server_and_the_key_stays_out(server, tmp_path):
    """The key in OPENAI_API_KEY reaches the server (a recording proxy in front of it sees every request) and
    nothing else: no output, file or message of the run holds it."""
    proxy = RecordingProxy(server.url)
    env = {**os.environ, "OPENAI_API_KEY": FAKE_KEY}
    try:
        result = subprocess.run(
            [sys.executable, str(RUNNER), "--runs", str(tmp_path), "--name", "served", "--notebooks", "03",
             "-p", "sample_size", "300", "-p", "llm_backend", "openai", "-p", "llm_base_url", proxy.url,
             "-p", "llm_model", server.model, "-p", "cache_dir", str(tmp_path / "cache")],
            env=env, capture_output=True, text=True, timeout=900,
        )
    finally:
        proxy.close()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    asked = [(method, path) for method, path, _ in proxy.requests]
    assert ("POST", "/v1/chat/completions") in asked, f"the labels did not go through the proxy: {asked[:5]}"
    sent = {authorization for _, _, authorization in proxy.requests}
    assert sent == {f"Bearer {FAKE_KEY}"}, f"requests without the key from OPENAI_API_KEY: {sent}"
    run = tmp_path / "served"
    labels = pd.read_csv(run / "labels.csv", keep_default_na=False)
    assert (labels[labels.topic != -1].source == "llm").sum() >= 1, labels
    settings = json.loads((run / "settings.json").read_text())
    assert settings["llm_backend"] == "openai" and settings["llm_api_key_env"] == "OPENAI_API_KEY"
    text = (run / "03_topic_modeling.ipynb").read_text()
    assert "LLM server http://127.0.0.1" in text and "prompts replayed" in text
    from conftest import assert_secret_absent

    assert_secret_absent(tmp_path, FAKE_KEY)
    assert FAKE_KEY not in result.stdout + result.stderr
