"""Embeddings from a server (``embedding_backend = "openai"``), tested against a real one on 127.0.0.1.

The server is Infinity (``infinity-emb``, the OpenAI-compatible embeddings server of
michaelfeil/infinity, installed from PyPI with ``--no-deps``: requirements-dev-nodeps.txt) serving the
packaged all-MiniLM-L6-v2 folder on the CPU, with an API key. Requests are counted in the server's own
access log, never by mocking the client.

Infinity 0.0.78 counts tokens with ``batch_encode_plus``, which transformers 5 removed; the launcher
puts that one method back as the plain batch call it was (``tokenizer(texts, ...)``) before starting
Infinity's own command line. Everything else is Infinity's code as installed.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from tools.run import RUNNER
from tools.servers import LocalServer, free_port
from helpers.settings import PACKAGED_EMBEDDINGS, as_dict, resolve_settings

KEY_VARIABLE = "TEST_EMBEDDING_SERVER_KEY"
LAUNCH = """
import sys
from transformers.tokenization_utils_base import PreTrainedTokenizerBase
if not hasattr(PreTrainedTokenizerBase, "batch_encode_plus"):  # removed in transformers 5
    PreTrainedTokenizerBase.batch_encode_plus = lambda self, texts, **options: self(list(texts), **options)
from infinity_emb.cli import cli
sys.argv[0] = "infinity_emb"
cli()
"""
DOCS = [
    "Shares in the carmaker rose after it reported higher profits for the third quarter.",
    "The striker scored twice as the champions won the derby in front of a full stadium.",
    "A new mobile phone with a larger screen and a faster chip was launched on Tuesday.",
    "The film won three awards, including best director, at the ceremony in London.",
    "Ministers will publish the bill on immigration before the general election.",
] * 3 + [f"Report number {n}: the central bank left interest rates unchanged this month." for n in range(12)]


class Infinity(LocalServer):
    """Infinity serving the packaged MiniLM at ``url`` under the name ``model``, its log at ``log``, asking
    for ``key``; stopped as ``transformers serve`` is (:class:`tools.servers.LocalServer`)."""

    def __init__(self, log: Path, key: str):
        super().__init__(PACKAGED_EMBEDDINGS, None, log)
        self.key = key

    def start(self, timeout: float = 240) -> "Infinity":
        from helpers.topics import embedding_model_path

        command = [sys.executable, "-c", LAUNCH, "v2", "--model-id", embedding_model_path(PACKAGED_EMBEDDINGS),
                   "--served-model-name", self.model, "--engine", "torch", "--device", "cpu", "--dtype", "float32",
                   "--host", "127.0.0.1", "--port", str(self.port), "--url-prefix", "/v1"]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "INFINITY_ANONYMOUS_USAGE_STATS": "0", "DO_NOT_TRACK": "1",
               "INFINITY_API_KEY": self.key}  # the key reaches the server by its environment, not its command line
        self.process = subprocess.Popen(command, stdout=self.log.open("ab"), stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            assert self.process.poll() is None, f"Infinity stopped: {self.log.read_text()[-3000:]}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2):
                    return self
            except OSError:
                time.sleep(1)
        self.stop()
        raise TimeoutError(f"Infinity did not answer in {timeout} s: {self.log.read_text()[-3000:]}")

    def embedding_requests(self) -> int:
        """How many embedding requests the server answered, read from its access log."""
        return len(re.findall(r'"POST /v1/embeddings HTTP/1\.1" 200', self.log.read_text(errors="replace")))


@pytest.fixture(scope="module")
def infinity(tmp_path_factory):
    server = Infinity(tmp_path_factory.mktemp("infinity") / "server.log", "test-" + secrets.token_hex(16))
    with server:
        yield server


@pytest.fixture
def with_key(infinity, monkeypatch):
    monkeypatch.setenv(KEY_VARIABLE, infinity.key)
    return infinity


def server_settings(infinity, **more):
    return resolve_settings("offline", embedding_backend="openai", embedding_base_url=infinity.url,
                            embedding_api_key_env=KEY_VARIABLE, **more)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_server_embeddings_equal_local_ones_and_the_cache_asks_no_second_time(with_key, tmp_path):
    from helpers.topics import embed_documents, embeddings_path, load_embedding_model, open_embedding_model

    settings = server_settings(with_key, embedding_batch_size=4, embedding_concurrency=3)
    server = open_embedding_model(settings)
    assert "answers, serving packaged:all-MiniLM-L6-v2" in server.check()
    before = with_key.embedding_requests()
    vectors, reused = embed_documents(server, settings.embedding_model, DOCS, tmp_path, show_progress_bar=False)
    assert not reused and vectors.shape == (len(DOCS), 384) and vectors.dtype == np.float32
    assert with_key.embedding_requests() - before == -(-len(DOCS) // 4)  # batches of 4, every one sent once

    local = load_embedding_model(PACKAGED_EMBEDDINGS, "fp32").encode(DOCS, show_progress_bar=False)
    assert cosines(vectors, local).min() > 0.999  # row by row: the concurrent batches came back in order

    again, reused = embed_documents(open_embedding_model(settings), settings.embedding_model, DOCS, tmp_path)
    assert reused and np.array_equal(again, vectors)
    assert with_key.embedding_requests() - before == -(-len(DOCS) // 4)  # the cache answered: no request
    # their own cache file, keyed by the model and the texts (not the URL or key): never a local model's file
    path = embeddings_path(tmp_path, settings.embedding_model, DOCS, backend="openai")
    assert path.exists() and path != embeddings_path(tmp_path, settings.embedding_model, DOCS, "fp32")
    assert embeddings_path(tmp_path, settings.embedding_model, DOCS, backend="openai") == path


def test_bertopic_takes_the_server_as_its_embedding_model(with_key):
    from bertopic.backend._utils import select_backend

    from helpers.topics import load_embedding_model, open_embedding_model

    server = open_embedding_model(server_settings(with_key))
    assert select_backend(server) is server  # KeyBERTInspired, MMR and transform ask the server too
    words = ["market", "shares", "football", "election"]
    before = with_key.embedding_requests()
    vectors = server.embed_words(words)
    assert with_key.embedding_requests() == before + 1
    local = load_embedding_model(PACKAGED_EMBEDDINGS, "fp32").encode(words)
    assert cosines(vectors, local).min() > 0.999
    assert server.encode("one text").shape == (384,)


def test_a_server_that_does_not_answer_is_one_sentence(tmp_path):
    from helpers.embedding_server import open_embedding_server

    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    server = open_embedding_server(url, PACKAGED_EMBEDDINGS, retries=1, timeout=5)
    with pytest.raises(ConnectionError) as error:
        server.encode(DOCS[:3])
    message = str(error.value)
    assert message.startswith(f"The embedding server at {url} does not answer") and "embedding_base_url" in message
    assert not re.search(r"[.!?] [A-Z]", message) and message.endswith(".")  # one sentence
    with pytest.raises(ConnectionError):
        server.check()


def test_a_wrong_path_model_or_key_is_one_sentence_and_the_key_is_never_shown(with_key, monkeypatch):
    from helpers.embedding_server import open_embedding_server

    no_v1 = open_embedding_server(with_key.url[:-len("/v1")], with_key.model, KEY_VARIABLE, retries=0)
    with pytest.raises(LookupError, match=r"\(HTTP 404\).*ends in /v1\.$"):
        no_v1.encode(DOCS[:2])
    other = open_embedding_server(with_key.url, "BAAI/bge-small-en", KEY_VARIABLE, retries=0)
    with pytest.raises(LookupError, match="it serves packaged:all-MiniLM-L6-v2: set embedding_model"):
        other.check()
    before = with_key.embedding_requests()
    with pytest.raises(LookupError, match="does not serve the model 'BAAI/bge-small-en'"):
        other.encode(DOCS[:2])  # Infinity answers for any name when it serves one model: encode asks first
    assert with_key.embedding_requests() == before
    wrong = "sk-" + secrets.token_hex(20)
    monkeypatch.setenv(KEY_VARIABLE, wrong)
    refused = open_embedding_server(with_key.url, with_key.model, KEY_VARIABLE, retries=0)
    with pytest.raises(PermissionError) as error:
        refused.encode(DOCS[:2])
    assert f"environment variable {KEY_VARIABLE}" in str(error.value)
    for shown in (str(error.value), repr(refused), str(as_dict(server_settings(with_key)))):
        assert wrong not in shown and with_key.key not in shown


def test_embedding_settings_are_checked_with_one_sentence():
    settings = resolve_settings("colab-t4", embedding_backend="openai", embedding_base_url="http://127.0.0.1:7997/v1")
    assert (settings.embedding_backend, settings.embedding_concurrency, settings.embedding_batch_size) == ("openai", 4, 32)
    assert resolve_settings("offline").embedding_backend == "sentence-transformers"
    with pytest.raises(ValueError, match="needs embedding_base_url"):
        resolve_settings("offline", embedding_backend="openai")
    with pytest.raises(ValueError, match="Did you mean 'openai'"):
        resolve_settings("offline", embedding_backend="open-ai")
    pasted = "sk-" + secrets.token_hex(20)
    with pytest.raises(ValueError, match="embedding_api_key_env is the name") as error:
        resolve_settings("offline", embedding_api_key_env=pasted)
    assert pasted not in str(error.value)
    with pytest.raises(ValueError, match="'embedding_batch_size' must be at least 1"):
        resolve_settings("offline", embedding_batch_size=0)
    shown = as_dict(resolve_settings("offline", embedding_backend="openai",
                                     embedding_base_url="http://user:secret@10.0.0.5:7997/v1"))
    assert shown["embedding_base_url"] == "http://***@10.0.0.5:7997/v1"


def test_notebook_03_runs_with_embeddings_from_the_server_through_the_runner(with_key, tmp_path):
    """Issue 27: the runner passes embedding_backend and the URL into 03's more_settings; 03 embeds on the server,
    caches the vectors under the server's key, and the topics come out; a URL with a password stops the run first."""
    import pandas as pd

    def run(*extra):
        return subprocess.run(
            [sys.executable, str(RUNNER), "--runs", str(tmp_path / "runs"), "--name", "served", "--notebooks", "03",
             "-p", "sample_size", "200", "-p", "embedding_backend", "openai", "-p", "embedding_api_key_env", KEY_VARIABLE,
             "-p", "cache_dir", str(tmp_path / "cache"), *extra],
            capture_output=True, text=True, timeout=900, env={**os.environ, KEY_VARIABLE: with_key.key})

    refused = run("-p", "embedding_base_url", with_key.url.replace("http://", "http://me:secret@"))
    assert refused.returncode != 0 and "embedding_base_url carries a user name or password" in refused.stderr + refused.stdout
    before = with_key.embedding_requests()
    done = run("-p", "embedding_base_url", with_key.url)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert with_key.embedding_requests() > before, "the documents went to the server"
    topics = pd.read_csv(tmp_path / "runs" / "served" / "topics.csv")
    assert (topics.Topic >= 0).sum() >= 2 and topics.Count.sum() == 200
    settings = json.loads((tmp_path / "runs" / "served" / "settings.json").read_text())
    assert settings["embedding_backend"] == "openai" and with_key.key not in json.dumps(settings)
    assert list((tmp_path / "cache" / "embeddings").glob("*.npy")), "the server's vectors were cached"
