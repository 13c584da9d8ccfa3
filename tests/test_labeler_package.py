"""Our labeler lifted into someone else's BERTopic: the README's usage, run as written, on a real corpus,
real embeddings and the packaged LLM (issue 34, item 3)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "helpers" / "labeler" / "README.md"
CATEGORIES = ("business", "sport", "tech")


def _usage_block() -> str:
    """The README's one ```python block: the code a reader copies."""
    (block,) = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)
    return block


@pytest.fixture(scope="module")
def fitted(small_llm):
    """BBC News, 40 articles of each of three categories (their leads), fitted by the README's code."""
    from hdbscan import HDBSCAN
    from umap import UMAP

    from helpers.data import read_bbc_news
    from helpers.settings import PACKAGED_EMBEDDINGS
    from helpers.topics import load_embedding_model

    news = read_bbc_news()
    news = news[news.category.isin(CATEGORIES)].groupby("category").head(40)
    tokenizer, _, generator = small_llm
    names = dict(
        tokenizer=tokenizer, generator=generator,
        docs=[" ".join(text.split()[:50]) for text in news.abstract],  # the lead: short prompts on a CPU
        embedding_model=load_embedding_model(PACKAGED_EMBEDDINGS),
        umap_model=UMAP(n_neighbors=10, n_components=5, min_dist=0.0, metric="cosine", random_state=42),
        hdbscan_model=HDBSCAN(min_cluster_size=15, metric="euclidean", prediction_data=True),
    )
    exec(compile(_usage_block(), str(README), "exec"), names)
    return names


def test_the_readme_shows_plain_bertopic_with_our_labeler_as_its_llm_representation():
    block = _usage_block()
    assert "from helpers.labeler import BatchedTextGeneration" in block
    assert 'representation_model={"LLM": llm}' in block and "[DOCUMENTS]" in block and "[KEYWORDS]" in block
    assert "helpers.settings" not in block and "helpers.labels" not in block, "nothing of the series is needed"


def test_every_topic_gets_a_short_label_that_get_topic_info_shows(fitted):
    info = fitted["topic_model"].get_topic_info()
    named = info[info.Topic != -1]
    assert len(named) >= 2, info[["Topic", "Count"]]
    for topic, label in zip(info.Topic, fitted["labels"]):
        assert isinstance(label, str) and label.strip(), topic
        assert 1 <= len(label.split()) <= 10, (topic, label)
    assert list(info["LLM"].str[1:].map(set)) == [{""}] * len(info), "the label, then BERTopic's empty slots"


def test_records_hold_one_record_per_topic_with_its_label_and_verdicts(fitted):
    llm, info = fitted["llm"], fitted["topic_model"].get_topic_info()
    records = {r["topic"]: r for r in llm.records_}
    assert len(llm.records_) == len(records) and sorted(records) == sorted(info.Topic)
    for topic, label in zip(info.Topic, fitted["labels"]):
        record = records[topic]
        assert record["label"] == label and record["source"] in ("llm", "key phrase", "keywords")
        assert record["fallback"] == (record["source"] == "keywords")
        assert record["answers"] and "[DOCUMENTS]" not in record["prompt"] and 0 <= record["confidence"] <= 1
        assert all("failures" in c for c in record["candidates"])
        if not record["fallback"]:
            assert any(c["text"] == label and not c["failures"] for c in record["candidates"]), "it passed the rubric"


def test_the_fitted_labeler_pickles_with_its_records(fitted):
    import pickle

    llm = fitted["llm"]
    light = pickle.loads(pickle.dumps(llm.set_params(generator=None)))  # BERTopic's save pickles its models
    llm.set_params(generator=fitted["generator"])
    assert type(light) is type(llm) and [r["label"] for r in light.records_] == [r["label"] for r in llm.records_]
