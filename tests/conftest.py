"""Shared fixtures: a small offline corpus file and the packaged LLM, loaded once; a cache of the suite's own."""

import os
import shutil
import tempfile

import pandas as pd
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def pytest_configure(config):
    """Every session starts from an empty cache of its own (models converted, embeddings, answers): each label is
    generated, so a regression in generation shows, and neither your own runs' cache nor the other pass's
    precision (``make test-avx2``) is read. It goes at the end of the session."""
    config.own_cache = tempfile.mkdtemp(prefix="topic-llama2-test-cache-")
    os.environ["TOPIC_LLAMA2_CACHE"] = config.own_cache


def pytest_unconfigure(config):
    shutil.rmtree(getattr(config, "own_cache", ""), ignore_errors=True)


@pytest.fixture
def csv_corpus(tmp_path):
    """A tiny CSV with custom column names, one empty row and one non-text row."""
    path = tmp_path / "mine.csv"
    pd.DataFrame(
        {"text": ["Stocks rose today.", "", "Rain is expected.", None], "headline": ["a", "b", "c", "d"], "section": ["x"] * 4}
    ).to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def small_llm():
    """The packaged SmolLM2-135M-Instruct at full precision, as the offline profile labels with."""
    from helpers.llm import load_llm, make_generator

    tokenizer, model = load_llm("packaged:SmolLM2-135M-Instruct", "none")
    return tokenizer, model, make_generator(model, tokenizer)


def assert_secret_absent(root, secret: str) -> None:
    """Fail when any file under ``root`` contains ``secret``."""
    for path in root.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


@pytest.fixture
def no_gpu(monkeypatch):
    """This process sees no GPU, as on the CPU machines these tests describe (a GPU machine runs them too)."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
