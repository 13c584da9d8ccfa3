import pytest

from helpers.labels import BatchedTextGeneration, clean_label, keywords_label, label_or_keywords
from helpers.prompts import fill_prompt, llama2_prompt

PROMPT = fill_prompt(llama2_prompt(), ["Shares in the airline rose 5% after it reported a record profit for the year."], ["shares", "profit"])


@pytest.mark.parametrize("raw, label", [
    ("Stock markets", "Stock markets"),
    ("Stock markets\nThese documents are about shares.", "Stock markets"),  # multi-line
    ("\n\n  Stock markets  \n", "Stock markets"),  # leading blank lines
    ('"Stock markets"', "Stock markets"),  # quotes
    ("'Stock markets'.", "Stock markets"),
    ("**Stock markets**", "Stock markets"),  # markdown
    ("Label: Stock markets", "Stock markets"),  # prefixes
    ("Topic label: 'Stock markets'", "Stock markets"),
    ("Sure! Here is the label: Stock markets", "Stock markets"),
    ("This topic is titled Stock markets", "Stock markets"),
    ("- Stock markets", "Stock markets"),
    ("Stock markets</s>", "Stock markets"),
    ("Digital Music and Piracy: The Future of Peer-to-Peer Networks", "Digital Music and Piracy"),  # headline kept
    ("Privacy-Preserving Machine Learning: Federated Learning", "Privacy-Preserving Machine Learning: Federated Learning"),
    ("GM's decision to cut production in March has had a", "GM's decision to cut production in March"),  # cut by the budget
])
def test_cleaning_rules(raw, label):
    assert clean_label(raw, PROMPT) == label


@pytest.mark.parametrize("raw", [
    "",
    "   \n  ",
    None,
    "I have a topic that contains the following documents:",  # prompt echo
    "The topic is described by the following keywords: 'shares, profit'.",
    "Shares in the airline rose 5% after it reported a record profit for the year.",  # a document copied
    "Environmental impacts of eating meat",  # the one-shot example's answer copied
    "one two three four five six seven eight nine ten eleven twelve thirteen",  # over 12 words
    "stock market stock market stock market",  # a loop
])
def test_unusable_answers_give_an_empty_label(raw):
    assert clean_label(raw, PROMPT) == ""


def test_prompt_repeated_before_the_answer_is_removed():
    assert clean_label(PROMPT + " Airline profits", PROMPT) == "Airline profits"


def test_fallback_uses_the_keywords():
    assert label_or_keywords("", ["economy", "growth", "bank", "rate", "year"]) == ("economy, growth, bank, rate", True)
    assert label_or_keywords("Label: Economy", ["economy"]) == ("Economy", False)
    assert keywords_label(["a", "", "b"]) == "a, b"


class FakeGenerator:
    """Answers each prompt with its last keyword line's first word, recording batch sizes."""

    tokenizer = None

    def __init__(self, answers):
        self.answers, self.batches = answers, []

    def __call__(self, batch, **kwargs):
        self.batches.append(len(batch))
        assert kwargs["do_sample"] is False and kwargs["return_full_text"] is False
        return [[{"generated_text": self.answers[p]}] for p in batch]


def test_generation_goes_in_batches_and_keeps_the_order(monkeypatch):
    import helpers.labels as labels

    monkeypatch.setattr(labels, "make_stop_at_line_end", lambda tokenizer: None)
    prompts = [f"p{i}" for i in range(7)]
    fake = FakeGenerator({p: f"Label {p}\nmore" for p in prompts})
    answers = BatchedTextGeneration(fake, "[KEYWORDS]", batch_size=3, show_progress=False).generate(prompts)
    assert fake.batches == [3, 3, 1]
    assert answers == [f"Label {p}\nmore" for p in prompts]


def test_batch_size_must_be_positive():
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        BatchedTextGeneration(None, "x", batch_size=0)


# ---- with the real packaged model ------------------------------------------------
TOPICS = [
    (["The striker scored twice as the club won the league title.", "The coach praised his players after the cup final."],
     ["football", "club", "league", "goal", "cup"]),
    (["The central bank raised interest rates to curb inflation.", "Economic growth slowed in the third quarter."],
     ["economy", "growth", "rates", "inflation", "bank"]),
    (["The new phone has a faster chip and a better camera.", "Sales of mobile handsets rose sharply this year."],
     ["mobile", "phone", "handsets", "camera", "chip"]),
]


def _labels(generator, tokenizer, batch_size):
    from helpers.prompts import build_prompt

    prompt = build_prompt("packaged:SmolLM2-135M-Instruct", tokenizer)
    llm = BatchedTextGeneration(generator, prompt, batch_size=batch_size, max_new_tokens=12, show_progress=False)
    filled = [fill_prompt(prompt, docs, words) for docs, words in TOPICS]
    answers = llm.generate(filled)
    return answers, [label_or_keywords(a, w, p)[0] for a, (_, w), p in zip(answers, TOPICS, filled)]


def test_batch_size_one_and_n_give_the_same_labels(small_llm):
    tokenizer, _, generator = small_llm
    one, _ = _labels(generator, tokenizer, 1)
    three, _ = _labels(generator, tokenizer, 3)
    assert one == three


def test_same_parameters_give_the_same_labels_twice(small_llm):
    tokenizer, _, generator = small_llm
    first = _labels(generator, tokenizer, 2)
    second = _labels(generator, tokenizer, 2)
    assert first == second
    assert all(first[1])  # one non-empty label per topic


def test_answers_stop_at_the_end_of_their_first_line(small_llm):
    tokenizer, _, generator = small_llm
    answers, _ = _labels(generator, tokenizer, 3)
    assert all(a.strip().count("\n") == 0 for a in answers)


class FakeTopicModel:
    """Just what a representation model reads from BERTopic: representative docs per topic."""

    def _extract_representative_docs(self, c_tf_idf, documents, topics, nr_samples, nr_repr_docs, diversity):
        return {t: [f"document about {t}"] * nr_repr_docs for t in topics}, None, None, None


def test_an_empty_answer_uses_the_keywords_and_is_counted(monkeypatch):
    import helpers.labels as labels

    monkeypatch.setattr(labels, "make_stop_at_line_end", lambda tokenizer: None)
    topics = {0: [("economy", 0.5), ("growth", 0.4)], 1: [("film", 0.5), ("awards", 0.4)]}
    prompt = "Docs: [DOCUMENTS] Keywords: [KEYWORDS]"
    answers = {labels.fill_prompt(prompt, ["document about 0"] * 4, ["economy", "growth"]): "",
               labels.fill_prompt(prompt, ["document about 1"] * 4, ["film", "awards"]): "Label: Film awards\n"}
    llm = BatchedTextGeneration(FakeGenerator(answers), prompt, show_progress=False)
    out = llm.extract_topics(FakeTopicModel(), None, None, topics)
    assert out[0][0] == ("economy, growth", 1) and out[1][0] == ("Film awards", 1)
    assert len(out[0]) == 10 and out[0][1:] == [("", 0)] * 9
    assert [r["fallback"] for r in llm.records_] == [True, False]
    assert sum(r["fallback"] for r in llm.records_) == 1
    assert llm.records_[1]["raw"] == "Label: Film awards\n" and llm.records_[1]["prompt"].startswith("Docs: - document about 1")
