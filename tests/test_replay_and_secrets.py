"""Through the runner and notebook 03 (issue 25): planted secrets end up in no file, and recorded answers
replay with neither the server nor the model at hand."""

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import nbformat
import pandas as pd
import pytest
from conftest import assert_secret_absent

from tools.run import RUNNER
from tools.servers import free_port

pytestmark = pytest.mark.notebooks
SAMPLE = 300
SERVED = "fake-org/served-chat"
FAKE_HF_TOKEN = "hf_FAKE-planted-token-0123456789abcdef"
FAKE_KEY = "sk-FAKE-planted-key-0123456789abcdef"
FAKE_PASSWORD = "FAKE-planted-password-42"


class _ChatServer(BaseHTTPRequestHandler):
    """An OpenAI-compatible server that lists one model and names a topic by its first two keywords."""

    keys: list = []

    def _reply(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.keys.append(self.headers.get("Authorization"))
        self._reply({"object": "list", "data": [{"id": SERVED, "object": "model", "created": 0, "owned_by": "me"}]})

    def do_POST(self):
        self.keys.append(self.headers.get("Authorization"))
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        words = re.findall(r"keywords(?: of a topic)?: '?([^'\n]+)", request["messages"][-1]["content"], re.I)[-1].split(", ")
        answer = f"{words[0].capitalize()} and {words[1]}\n"
        self._reply({"id": "c", "object": "chat.completion", "created": 0, "model": SERVED,
                     "choices": [{"index": 0, "message": {"role": "assistant", "content": answer},
                                  "finish_reason": "stop"}],
                     "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

    def log_message(self, *args):
        pass


def _serving(handler):
    """``handler`` on 127.0.0.1 for the fixture that yields this: its /v1 URL, then stopped."""
    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def server():
    yield from _serving(_ChatServer)


def _run(runs, name, notebooks, *parameters, env=None):
    args = [sys.executable, str(RUNNER), "--runs", str(runs), "--name", name, "--notebooks", *notebooks,
            "-p", "sample_size", str(SAMPLE)]
    for key, value in parameters:
        args += ["-p", key, str(value)]
    return subprocess.run(args, env=env or os.environ, capture_output=True, text=True, timeout=900)


def _printed(run_dir, notebook) -> str:
    cells = nbformat.read(run_dir / notebook, as_version=4).cells
    return "".join(o.get("text", "") for c in cells if c.cell_type == "code" for o in c.outputs)


@pytest.fixture(scope="module")
def served_run(tmp_path_factory, server):
    """00 and 03 through the runner, labels from the server, a fake HF token and server key in the environment."""
    root = tmp_path_factory.mktemp("secrets")
    env = {**os.environ, "HF_TOKEN": FAKE_HF_TOKEN, "OPENAI_API_KEY": FAKE_KEY}
    served = [("llm_backend", "openai"), ("llm_base_url", server), ("llm_model", SERVED)]
    result = _run(root / "runs", "served", ["00", "03"], *served, ("cache_dir", root / "cache"), env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return root, result, served


@pytest.mark.same_on_any_cpu  # secrets and a server's recorded answers: no precision changes them
def test_planted_secrets_appear_in_no_file_after_a_run_that_reads_them(served_run, server):
    root, result, served = served_run
    run = root / "runs" / "served"
    assert f"Bearer {FAKE_KEY}" in _ChatServer.keys, "the server key was read and sent"
    assert "Hugging Face token found (environment)" in _printed(run, "00_setup_and_login.ipynb"), "the token was read"
    for secret in (FAKE_HF_TOKEN, FAKE_KEY):
        for folder in (root / "runs", root / "cache"):
            assert_secret_absent(folder, secret)
        assert secret not in result.stdout + result.stderr
    # a URL with a user name and password is refused before papermill writes it anywhere
    with_password = server.replace("http://", f"http://someone:{FAKE_PASSWORD}@")
    refused = _run(root / "runs", "password", ["03"], *served[:1], ("llm_base_url", with_password), ("llm_model", SERVED),
                   env={**os.environ, "OPENAI_API_KEY": FAKE_KEY})
    assert refused.returncode != 0 and "carries a user name or password" in refused.stderr
    assert FAKE_PASSWORD not in refused.stdout + refused.stderr and not (root / "runs" / "password").exists()
    assert_secret_absent(root, FAKE_PASSWORD)


def _cache_with_answers(source, target):
    """A new cache folder holding only the recorded answers and the embeddings (as on another machine)."""
    for part in ("answers", "embeddings"):
        shutil.copytree(source / part, target / part)
    return target


@pytest.mark.same_on_any_cpu  # secrets and a server's recorded answers: no precision changes them
def test_03_replays_a_servers_answers_with_the_server_gone(served_run):
    root, _, served = served_run
    cache = _cache_with_answers(root / "cache", root / "replay-cache")
    gone = [served[0], ("llm_base_url", f"http://127.0.0.1:{free_port()}/v1"), served[2]]  # nothing listens there
    result = _run(root / "runs", "replayed", ["03"], *gone, ("replay_only", "true"), ("cache_dir", cache))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    printed = _printed(root / "runs" / "replayed", "03_topic_modeling.ipynb")
    assert re.search(r"LLM answers: \d+ prompts replayed from .*, 0 generated", printed)
    labels = [pd.read_csv(root / "runs" / name / "labels.csv", keep_default_na=False) for name in ("served", "replayed")]
    assert labels[0][["topic", "label", "source"]].equals(labels[1][["topic", "label", "source"]])


def test_03_replays_a_local_models_answers_without_loading_it(tmp_path):
    """Recorded with the packaged model loaded (the default cache, where it is converted once); replayed from
    another cache folder, where the model was never converted: the answers' identity comes from the settings,
    not from the loaded dtype or model folder."""
    from helpers.machine import default_cache_dir

    recorded = _run(tmp_path / "runs", "recorded", ["03"])
    assert recorded.returncode == 0, recorded.stdout[-3000:] + recorded.stderr[-3000:]
    cache = _cache_with_answers(default_cache_dir(None), tmp_path / "laptop-cache")
    result = _run(tmp_path / "runs", "replayed", ["03"], ("replay_only", "true"), ("cache_dir", cache))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    printed = _printed(tmp_path / "runs" / "replayed", "03_topic_modeling.ipynb")
    assert "the model is not loaded" in printed
    assert re.search(r"LLM answers: \d+ prompts replayed from .*, 0 generated", printed)
    assert not (cache / "models").exists(), "the model was neither converted nor loaded"
    labels = [pd.read_csv(tmp_path / "runs" / name / "labels.csv", keep_default_na=False) for name in ("recorded", "replayed")]
    assert labels[0][["topic", "label", "source"]].equals(labels[1][["topic", "label", "source"]])


class _Elsewhere(BaseHTTPRequestHandler):
    """Someone else's server, named in a run folder they gave you: it records every request and answers none."""

    requests: list = []

    def _record(self):
        self.requests.append((self.command, self.path, self.headers.get("Authorization")))
        self.send_response(500)
        self.end_headers()

    do_GET = do_POST = _record

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def elsewhere():
    yield from _serving(_Elsewhere)


def _foreign_copy(run, target, **names):
    """A copy of ``run`` whose settings.json names someone else's servers and key variables (``names``)."""
    shutil.copytree(run, target)
    saved = json.loads((target / "settings.json").read_text())
    (target / "settings.json").write_text(json.dumps({**saved, **names}))
    return target


def _open(runs, name, notebook, *parameters, env):
    args = [sys.executable, str(RUNNER), "--runs", str(runs), "--name", name, "--notebooks", notebook,
            "--overwrite"]
    for key, value in parameters:
        args += ["-p", key, str(value)]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.same_on_any_cpu  # secrets and a server's recorded answers: no precision changes them
def test_a_foreign_run_folder_sends_no_request_and_no_secret_to_the_server_it_names(served_run, server, elsewhere):
    """Issue 37, item 1: a settings.json naming another server and `HF_TOKEN` as its key variable made 05 send
    the token and every document there. Planted: HF_TOKEN, OPENAI_API_KEY and a server URL with a password."""
    root, _, served = served_run
    env = {**os.environ, "HF_TOKEN": FAKE_HF_TOKEN, "OPENAI_API_KEY": FAKE_KEY}
    with_password = elsewhere.replace("http://", f"http://someone:{FAKE_PASSWORD}@")
    theirs = {"embedding_backend": "openai", "embedding_base_url": with_password, "embedding_api_key_env": "HF_TOKEN",
              "llm_base_url": with_password, "llm_api_key_env": "HF_TOKEN"}
    runs = root / "foreign"
    # their embeddings server: 04, 05 and 06 refuse the folder in one sentence, saying what to pass
    _foreign_copy(root / "runs" / "served", runs / "embedder", **theirs)
    for notebook in ("04", "05", "06"):
        result = _open(runs, "embedder", notebook, *served, env=env)
        assert result.returncode != 0 and "a run folder never chooses a server, a key variable or a model download" \
            in result.stderr, (notebook, result.stderr[-2000:])
    # their LLM server only: 06 labels with this session's server (its key variable, OPENAI_API_KEY), never theirs
    _foreign_copy(root / "runs" / "served", runs / "labeler", llm_base_url=with_password, llm_api_key_env="HF_TOKEN")
    _ChatServer.keys.clear()
    result = _open(runs, "labeler", "06", *served, ("cache_dir", root / "cache"), env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert _ChatServer.keys and set(_ChatServer.keys) == {f"Bearer {FAKE_KEY}"}, "this session's server and key"
    assert _Elsewhere.requests == [], "no request left for the server the folder names"
    planted = {runs / "embedder" / "settings.json", runs / "labeler" / "settings.json"}
    for secret in (FAKE_HF_TOKEN, FAKE_KEY, FAKE_PASSWORD):
        for path in [p for p in [*runs.rglob("*"), *(root / "cache").rglob("*")] if p.is_file() and p not in planted]:
            assert secret.encode() not in path.read_bytes(), (path, secret[:8])
        assert secret not in result.stdout + result.stderr
