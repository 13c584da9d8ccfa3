"""Shared fixtures: a small offline corpus file and the packaged LLM, loaded once."""

import os

import pandas as pd
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


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
