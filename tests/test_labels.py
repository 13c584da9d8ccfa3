import pytest

import numpy as np

from helpers.labeler import BatchedTextGeneration
from helpers.labeler._choice import choose_label
from helpers.label_similarity import retrieval_precision
from helpers.labeler._clean import clean_label, repair_label
from helpers.labeler._keyphrases import key_phrases
from helpers.labeler._rubric import COPIED, CUT, ECHO, EMPTY, FALLBACK, INVENTED, LIST, REPETITIVE, SENTENCE, TOO_LONG, invented_words, label_failures
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
    ('The topic is "The Premier League" in 2 to 5 words.', "The Premier League"),  # the keywords prompt's answers
    ("The topic is: Tennis", "Tennis"),
    ("- Stock markets", "Stock markets"),
    ("Stock markets</s>", "Stock markets"),
    ("Digital Music and Piracy: The Future of Peer-to-Peer Networks", "Digital Music and Piracy"),  # headline kept
    ("Title-winning teams in the Premiership", "Title-winning teams in the Premiership"),  # hyphenated first words stay
    ("Topic-modelling research", "Topic-modelling research"),
    ("Title - Stock markets", "Stock markets"),
])
def test_cleaning_rules(raw, label):
    assert clean_label(raw, PROMPT) == label


@pytest.mark.parametrize("raw", [
    "The topic is a digital, mobile, gaming, phone, video, people,",  # the short prompt's answer, whole-BBC run 2026-12-06
    "Film, awards, actors, Oscars",
])
def test_an_answer_of_keywords_in_a_row_is_no_label(raw):
    """Cut at its first comma it became the label "a digital" (topic 2, tech): no clean form survives, the next
    candidate wins."""
    assert clean_label(raw, PROMPT) == ""


@pytest.mark.parametrize("raw, label", [
    ("The rise of mobile phones, games and music in Britain", "The rise of mobile phones"),
    ("Google, Ask Jeeves", "Google, Ask Jeeves"),
])
def test_a_headline_holding_a_list_is_still_a_label(raw, label):
    assert clean_label(raw, PROMPT) == label


def test_prompt_repeated_before_the_answer_is_removed():
    assert clean_label(PROMPT + " Airline profits", PROMPT) == "Airline profits"


@pytest.mark.parametrize("answer, budget_hit, label", [
    # cut by a 12-token budget mid-name: the cut word goes, then a phrase boundary
    ("Investigative and criminal charges against former WorldCom chief Bern", True, "Investigative and criminal charges"),
    ("GM's decision to sell the company's stake in 2", True, "GM's decision"),
    # a clause keeps its subject
    ("Mobile phones are still enjoying a boom time in sales", False, "Mobile phones"),
    ("Rugby World Ran on Rampart", False, "Rugby World"),
    ("Digital access to internet services in the UK is proving more popular", False,
     "Digital access to internet services"),
    # over six words: cut before the last preposition that leaves at most six
    ("Economic and political challenges of Gordon Brown's government", False, "Economic and political challenges"),
    # short and whole: left alone, even when the budget ended it
    ("The Australian Open", False, "The Australian Open"),
    ("Film awards", True, "Film"),
    # a bracket left open is closed
    ("Stock Exchange (LSE", False, "Stock Exchange (LSE)"),
])
def test_repair_cuts_at_a_phrase_boundary_never_mid_word(answer, budget_hit, label):
    assert repair_label(answer, budget_hit) == label


BBC_DOCS = [
    "Shares in mobile phone makers rose as sales of handsets boomed in 2004, analysts said.",
    "Chelsea win at Fulham again as the title race heats up.",
    "Digital music downloads and piracy worry the record industry.",
]


@pytest.mark.parametrize("label, kwargs, reasons", [
    ("", {}, [EMPTY]),
    ("I have a topic that contains the following documents:", {}, [ECHO, TOO_LONG, SENTENCE, INVENTED]),
    ("Environmental impacts of eating meat", {}, [ECHO, INVENTED]),  # the one-shot example's answer, copied
    ("Mobile phones are still enjoying a boom time in sales, according", {}, [TOO_LONG, SENTENCE, INVENTED]),
    ("Mobile phone sales boomed", {}, [SENTENCE]),
    ("Mobile phone maker says", {}, [SENTENCE]),
    ("Handset makers said", {}, [SENTENCE]),  # an irregular past tense
    ("Investigative and criminal charges against former WorldCom chief Bern",
     {"answer": "... former WorldCom chief Bern", "budget_hit": True}, [TOO_LONG, CUT, INVENTED]),
    ("The Best TV Show of 2022", {}, [INVENTED]),  # the corpus is from 2004-2005
    ("Malicious software in Windows", {}, [INVENTED]),
    ("shares, mobile, phone, sales", {"fallback": True}, [FALLBACK]),
    ("Chelsea win at Fulham", {}, [COPIED]),  # one article's headline
    ("phone phone phone", {}, [REPETITIVE]),
    ("Mobile, phone, sales, handsets", {}, [LIST]),  # the LLM listing keywords
])
def test_the_strict_rubric_names_each_failure(label, kwargs, reasons):
    assert label_failures(label, PROMPT, BBC_DOCS, ["Chelsea win at Fulham again"], **kwargs) == reasons


@pytest.mark.parametrize("label", [
    "Mobile phone sales", "Digital music and piracy", "Handset sales in 2004", "Proposed record industry rules",
    "The title race", "Rising mobile phone sales",
])
def test_labels_a_reader_would_keep_pass_the_rubric(label):
    docs = BBC_DOCS + ["Record industry leaders proposed new rules.", "Sales are rising fast."]
    assert label_failures(label, PROMPT, docs, ["Chelsea win at Fulham again"]) == []


def test_invented_words_accept_inflections_and_stems_but_not_new_numbers():
    docs = ["The elections were won on the economy.", "Growth of 4.5% in 2004."]
    assert invented_words("Economic growth and election results", docs) == ["results"]
    assert invented_words("Growth in 2005", docs) == ["2005"]


def test_key_phrases_are_typical_of_their_topic_in_the_documents_casing():
    docs = {
        0: ["Oil prices rose at the Bank of England.", "The Bank of England kept oil prices on hold.",
            "Oil prices and the Bank of England, said Mr King."] * 2,
        1: ["The mobile phone market grew.", "Mobile phone sales rose.", "A new mobile phone was launched."] * 2,
    }
    docs[2] = ["England coach Andy Robinson praised the rugby team.", "The rugby coach, Andy Robinson, said so."] * 3
    phrases = key_phrases(docs, top_n=2)
    assert "Oil prices" in phrases[0] and "Bank of England" in phrases[0]
    assert "Andy Robinson" in phrases[2] and not any(p.endswith("Andy") for p in phrases[2]), "no name cut short"
    assert "Mobile phone" in phrases[1]
    assert not any(p.lower().startswith(("said", "mr")) for ps in phrases.values() for p in ps)
    # "stock exchange lse" is written "Stock Exchange (LSE" up to the phrase's last word: shown with its bracket closed
    bracketed = key_phrases({0: ["The London Stock Exchange (LSE) rejected the bid from Deutsche Boerse."] * 3 +
                             ["Shares in the London Stock Exchange (LSE) rose."] * 3,
                             1: ["The mobile phone market grew."] * 3}, top_n=3)
    assert all(p.count("(") == p.count(")") for ps in bracketed.values() for p in ps), bracketed


def _phrase_corpus(topics: int, random_words: int, pool: int = 200_000) -> dict[int, list[str]]:
    """Each topic's own phrase ("alpha7 beta7 gamma7", three times), plus documents of random words
    from a ``pool`` as large as a big corpus's vocabulary."""
    rng = np.random.RandomState(0)
    words = np.array([f"w{i}x" for i in range(pool)])
    return {t: [f"alpha{t} beta{t} gamma{t} " * 3] + [" ".join(rng.choice(words, 100)) for _ in range(random_words // 100)]
            for t in range(topics)}


def test_key_phrases_stay_sparse_and_bounded_when_the_vocabulary_grows(monkeypatch):
    """Issue 25, item 18: no dense topic x n-gram matrix (millions of n-grams on a large corpus): with 100x
    the n-grams, the peak memory stays far below one dense topic x n-gram matrix, and no 2-D matrix of
    more than one row is ever made dense."""
    import tracemalloc

    import scipy.sparse as sp
    from sklearn.feature_extraction.text import CountVectorizer

    densified = []

    def recording(method):
        def dense(self, *args, **kwargs):
            densified.append(self.shape)
            return method(self, *args, **kwargs)
        return dense

    for cls in (sp.csr_matrix, sp.csc_matrix, sp.coo_matrix, sp.csr_array, sp.csc_array, sp.coo_array):
        for name in ("toarray", "todense"):
            monkeypatch.setattr(cls, name, recording(getattr(cls, name)))
    topics = 200
    small, big = _phrase_corpus(topics, 0), _phrase_corpus(topics, 300)
    n_grams = [len(CountVectorizer(ngram_range=(1, 3)).fit([" ".join(d) for d in docs.values()]).vocabulary_)
               for docs in (small, big)]
    assert n_grams[1] >= 80 * n_grams[0], n_grams
    key_phrases(small)  # imports and warm-up outside the measure
    tracemalloc.start()
    try:
        phrases = key_phrases(big)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    dense = topics * n_grams[1] * 8  # one float64 topic x n-gram matrix
    assert peak < dense / 4, f"peak {peak / 1e6:.0f} MB, one dense matrix {dense / 1e6:.0f} MB"
    assert all(shape[0] == 1 for shape in densified), f"dense topic x n-gram matrices: {set(densified)}"
    assert all(f"Alpha{t} beta{t} gamma{t}" in phrases[t] for t in range(topics)), phrases[0]


def _candidate(text, source, coverage, failures=()):
    return {"text": text, "source": source, "coverage": coverage, "failures": list(failures)}


def test_the_llm_answer_wins_unless_a_key_phrase_covers_the_topic_clearly_better():
    close = [_candidate("Mobile phone sales", "llm", 0.40), _candidate("Handsets", "key phrase", 0.45)]
    assert choose_label(close)["text"] == "Mobile phone sales"
    better = [_candidate("The game of life", "llm", 0.05), _candidate("Premiership", "key phrase", 0.31)]
    assert choose_label(better)["text"] == "Premiership"
    failing = [_candidate("The Best TV Show of 2022", "llm", 0.9, [INVENTED]), _candidate("TV", "key phrase", 0.2)]
    assert choose_label(failing)["text"] == "TV"
    assert choose_label([_candidate("x", "llm", 0.5, [SENTENCE])]) is None


def test_confidence_is_the_share_of_the_topic_among_the_documents_nearest_the_label():
    similarities = np.array([[0.9, 0.8, 0.1, 0.7], [0.1, 0.8, 0.9, 0.3]])
    topics = [0, 0, 1, 1]
    assert retrieval_precision(similarities, topics, [0, 1]) == [1.0, 0.5]


class FakeGenerator:
    """Answers each prompt from a table, recording batch sizes and the generation settings asked for."""

    tokenizer = None

    def __init__(self, answers):
        self.answers, self.batches, self.settings = answers, [], []

    def __call__(self, batch, **kwargs):
        self.batches.append(len(batch))
        self.settings.append(kwargs)
        assert kwargs["do_sample"] is False and kwargs["return_full_text"] is False
        return [[{"generated_text": self.answers[p]}] for p in batch]


def test_generation_goes_in_batches_and_keeps_the_order(monkeypatch):
    import helpers.labeler._batched as labels

    monkeypatch.setattr(labels, "StopAtLineEnd", lambda tokenizer: None)
    prompts = [f"p{i}" for i in range(7)]
    fake = FakeGenerator({p: f"Label {p}\nmore" for p in prompts})
    answers = BatchedTextGeneration(fake, "[KEYWORDS]", batch_size=3, show_progress=False).generate(prompts)
    assert fake.batches == [3, 3, 1]
    assert answers == [[f"Label {p}\nmore"] for p in prompts]
    assert "num_beams" not in fake.settings[0], "one candidate: greedy"


def test_recorded_answers_replay_and_a_killed_run_resumes(monkeypatch, tmp_path):
    import helpers.labeler._batched as labels

    monkeypatch.setattr(labels, "StopAtLineEnd", lambda tokenizer: None)
    prompts = [f"p{i}" for i in range(5)]
    fake = FakeGenerator({p: f"Label {p}" for p in prompts})
    first = BatchedTextGeneration(fake, "[KEYWORDS]", batch_size=2, show_progress=False, cache_dir=tmp_path)
    assert first.generate(prompts[:3]) == [[f"Label {p}"] for p in prompts[:3]]  # a run that stopped after 3
    assert (first.replayed_, first.generated_) == (0, 3)
    again = BatchedTextGeneration(fake, "[KEYWORDS]", batch_size=2, show_progress=False, cache_dir=tmp_path)
    assert again.generate(prompts) == [[f"Label {p}"] for p in prompts]
    assert (again.replayed_, again.generated_) == (3, 2) and fake.batches == [2, 1, 2], "only the two new prompts"
    replay = BatchedTextGeneration(fake, "[KEYWORDS]", show_progress=False, cache_dir=tmp_path, replay_only=True)
    assert replay.generate(prompts) == [[f"Label {p}"] for p in prompts] and fake.batches == [2, 1, 2]
    with pytest.raises(LookupError, match=r"1 of 6 prompts have no recorded answer.*run once with replay_only = False"):
        replay.generate(prompts + ["new"])
    other = BatchedTextGeneration(fake, "[KEYWORDS]", show_progress=False, cache_dir=tmp_path, max_new_tokens=99)
    other.generate(prompts[:1])
    assert other.generated_ == 1, "other generation settings: other answers, not replayed"
    recorded = list(tmp_path.rglob("*.json"))
    assert len(recorded) == 6 and '"prompt": "p0"' in "".join(p.read_text() for p in recorded)


def test_batch_size_and_candidates_must_be_positive():
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        BatchedTextGeneration(None, "x", batch_size=0)
    with pytest.raises(ValueError, match="candidates must be at least 1"):
        BatchedTextGeneration(None, "x", candidates=0)


# ---- with the real packaged model ------------------------------------------------
TOPICS = [
    (["The striker scored twice as the club won the league title.", "The coach praised his players after the cup final."],
     ["football", "club", "league", "goal", "cup"]),
    (["The central bank raised interest rates to curb inflation.", "Economic growth slowed in the third quarter."],
     ["economy", "growth", "rates", "inflation", "bank"]),
    (["The new phone has a faster chip and a better camera.", "Sales of mobile handsets rose sharply this year."],
     ["mobile", "phone", "handsets", "camera", "chip"]),
]


def _answers(generator, tokenizer, batch_size, candidates=1, max_new_tokens=24):
    from helpers.prompts import build_prompt

    prompt = build_prompt("packaged:SmolLM2-135M-Instruct", tokenizer)
    llm = BatchedTextGeneration(generator, prompt, batch_size=batch_size, max_new_tokens=max_new_tokens,
                                candidates=candidates, show_progress=False)
    return llm.generate([fill_prompt(prompt, docs, words) for docs, words in TOPICS])


def test_batch_size_one_and_n_give_the_same_answers(small_llm):
    tokenizer, _, generator = small_llm
    assert _answers(generator, tokenizer, 1) == _answers(generator, tokenizer, 3)


ANSWERS_IN_A_NEW_PROCESS = """
import json, sys
from conftest import *  # noqa: F403 (the offline environment)
from helpers.llm import load_llm, make_generator
from test_labels import _answers
tokenizer, model = load_llm("packaged:SmolLM2-135M-Instruct", "none")
generator = make_generator(model, tokenizer)
print(json.dumps({n: _answers(generator, tokenizer, 2, n) for n in (1, 2)}))
"""


def test_same_parameters_give_the_same_answers_in_two_processes(small_llm):
    """Determinism across processes: a fresh interpreter (fresh seeds and caches) answers as this one does, after
    whatever other tests ran here, not just two calls in one."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    here = Path(__file__).parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(here), str(here.parent), os.environ.get("PYTHONPATH", "")])}
    tokenizer, _, generator = small_llm
    runs = [json.loads(json.dumps({n: _answers(generator, tokenizer, 2, n) for n in (1, 2)}))]  # this process's
    done = subprocess.run([sys.executable, "-c", ANSWERS_IN_A_NEW_PROCESS], env=env, cwd=here,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    assert runs[0] == runs[1]
    for n, answers in runs[0].items():
        assert all(len(a) == int(n) and all(x.strip() for x in a) for a in answers), answers


def test_answers_stop_at_the_end_of_their_first_line_long_before_the_budget(small_llm):
    tokenizer, _, generator = small_llm
    answers = [a[0] for a in _answers(generator, tokenizer, 3, max_new_tokens=120)]
    # without the stop, a 135M model goes on for the whole budget, line after line
    assert all(a.strip() and "\n" not in a.strip() for a in answers)
    assert all(len(tokenizer(a, add_special_tokens=False).input_ids) < 60 for a in answers)


class FakeEmbedder:
    """Bag-of-words vectors over a fixed vocabulary: enough to rank candidates by coverage."""

    VOCABULARY = ["economy", "growth", "film", "awards", "oscar", "actor", "bank"]

    def embed(self, texts, verbose=False):
        rows = [[text.lower().count(w) + 1e-3 for w in self.VOCABULARY] for text in texts]
        return np.array(rows, dtype=float)


class FakeTopicModel:
    """Just what a representation model reads from BERTopic: representative docs and an embedder."""

    embedding_model = FakeEmbedder()

    def _extract_representative_docs(self, c_tf_idf, documents, topics, nr_samples, nr_repr_docs, diversity):
        return {t: documents.Document[documents.Topic == t].tolist()[:nr_repr_docs] for t in topics}, None, None, None


def test_each_topic_gets_the_passing_candidate_and_says_where_it_came_from(monkeypatch):
    import pandas as pd

    import helpers.labeler._batched as labels

    monkeypatch.setattr(labels, "StopAtLineEnd", lambda tokenizer: None)
    docs = ["Economy growth slowed, the bank said."] * 3 + ["Film awards: the Oscar for best actor."] * 3
    documents = pd.DataFrame({"Document": docs, "Topic": [0, 0, 0, 1, 1, 1], "ID": range(6)})
    topics = {0: [("economy", 0.5), ("growth", 0.4)], 1: [("film", 0.5), ("awards", 0.4)]}
    prompt, short = "Docs: [DOCUMENTS] Keywords: [KEYWORDS]", "Name: [KEYWORDS]"
    fill = labels.fill_prompt
    answers = {
        fill(prompt, docs[:3], ["economy", "growth"]): "The economy is slowing down fast\n",  # a sentence: repaired
        fill(short, [], ["economy", "growth"]): "Quantum computing in 2031",  # invented
        fill(prompt, docs[3:], ["film", "awards"]): "The Best TV Show of 2022",  # invented
        fill(short, [], ["film", "awards"]): 'The topic is "Oscar awards"',
    }
    llm = BatchedTextGeneration(FakeGenerator(answers), prompt, keyword_prompt=short, key_phrases=0,
                                show_progress=False)
    out = llm.extract_topics(FakeTopicModel(), documents, None, topics)
    assert out[0][0] == ("The economy", 1) and out[1][0] == ("Oscar awards", 1)
    assert len(out[0]) == 10 and out[0][1:] == [("", 0)] * 9
    first = {r["topic"]: r for r in llm.records_}
    assert [c["failures"] for c in first[1]["candidates"]] == [[INVENTED], []]
    assert [r["source"] for r in llm.records_] == ["llm", "llm"]
    assert all(r["confidence"] == 1.0 for r in llm.records_), "each label retrieves exactly its topic"


def test_a_topic_where_nothing_passes_falls_back_to_its_keywords(monkeypatch):
    import pandas as pd

    import helpers.labeler._batched as labels

    monkeypatch.setattr(labels, "StopAtLineEnd", lambda tokenizer: None)
    documents = pd.DataFrame({"Document": ["Economy growth slowed."] * 3, "Topic": [0] * 3, "ID": range(3)})
    answers = {labels.fill_prompt("[KEYWORDS]", [], ["economy", "growth"]): ""}
    llm = BatchedTextGeneration(FakeGenerator(answers), "[KEYWORDS]", key_phrases=0, show_progress=False)
    out = llm.extract_topics(FakeTopicModel(), documents, None, {0: [("economy", 0.5), ("growth", 0.4)]})
    assert out[0][0] == ("economy, growth", 1)
    assert llm.records_[0]["fallback"] and llm.records_[0]["source"] == "keywords"


def test_a_large_topic_is_judged_on_a_bounded_sample_holding_its_prompt_documents(monkeypatch):
    """Issue 27: at the reference's size a topic holds thousands of documents; its label is judged on at most
    ``judged_docs`` of them, and always on those its prompt showed (a name copied from them is no invented word)."""
    import pandas as pd

    import helpers.labeler._batched as labels

    monkeypatch.setattr(labels, "StopAtLineEnd", lambda tokenizer: None)
    docs = ["The Oscar ceremony for best actor."] + ["Oscar night for the best actor."] * 19 + ["Film awards."] * 20
    documents = pd.DataFrame({"Document": docs, "Topic": [0] * 40, "ID": range(40)})
    topics = {0: [("film", 0.5), ("awards", 0.4)]}
    answers = {labels.fill_prompt("[DOCUMENTS]", docs[:1], ["film", "awards"]): "Oscar ceremony"}
    llm = BatchedTextGeneration(FakeGenerator(answers), "[DOCUMENTS]", nr_docs=1, key_phrases=0, show_progress=False,
                                judged_docs=5)
    assert llm.extract_topics(FakeTopicModel(), documents, None, topics)[0][0] == ("Oscar ceremony", 1)
    (record,) = llm.records_
    assert record["candidates"][0]["failures"] == [], "'ceremony' is only in the prompt's document, always judged"
    assert record["share"] * 5 == round(record["share"] * 5), "the share is over the 5 documents judged"
    whole = BatchedTextGeneration(FakeGenerator(answers), "[DOCUMENTS]", nr_docs=1, key_phrases=0, show_progress=False,
                                  judged_docs=None)
    whole.extract_topics(FakeTopicModel(), documents, None, topics)
    assert whole.records_[0]["share"] == 0.5, "all 40: the 20 documents naming the Oscar"


class FakeFittedModel:
    """A fitted topic model as labels_table reads it, labelled by the reference's TextGeneration."""

    embedding_model = FakeEmbedder()
    topics_ = [0, 0, 0, 1, 1, 1]

    def __init__(self, answers):
        self.answers = answers

    def get_topics(self, full=False):
        return {"LLM": {t: [(answer, 1)] + [("", 0)] * 9 for t, answer in self.answers.items()}}

    def get_topic(self, topic):
        return {0: [("economy", 0.5), ("growth", 0.4)], 1: [("film", 0.5), ("awards", 0.4)]}[topic]


def test_the_reference_method_is_judged_by_the_same_rubric_with_its_own_prompts():
    from helpers.labels import labels_table

    docs = ["Economy growth slowed sharply in the third quarter, the central bank said."] * 3 + \
        ["Film awards: the Oscar for best actor."] * 3
    copied = "Economy growth slowed sharply in the third quarter, the central bank said"  # a document the prompt showed
    prompts = [f"Docs:\n- {docs[0]}\nKeywords: economy, growth", f"Docs:\n- {docs[3]}\nKeywords: film, awards"]

    class TextGeneration:  # what BERTopic's TextGeneration leaves behind: one prompt per topic
        prompts_ = prompts

    model = FakeFittedModel({0: copied + "\nIt is about the economy.", 1: "Oscar awards\n"})
    table = labels_table(model, TextGeneration(), docs).set_index("topic")
    assert table.loc[0, "reference_label"] == copied and table.loc[0, "source"] == "keywords"
    assert table.loc[0, "llm_failures"] == "prompt echo; copied from one document", "judged with the prompt it answered"
    assert table.loc[0, "label"] == "economy, growth" and table.loc[0, "fallback"]
    assert (table.loc[1, "label"], table.loc[1, "source"], table.loc[1, "llm_failures"]) == ("Oscar awards", "llm", "")
    assert table.confidence.between(0, 1).all()


def test_the_bertopic_internals_the_labeler_reads_are_still_there():
    """BatchedTextGeneration calls two private BERTopic functions; an upgrade that moves them fails here, loudly."""
    import inspect

    from bertopic import BERTopic
    from bertopic.representation._utils import truncate_document

    assert list(inspect.signature(BERTopic._extract_representative_docs).parameters)[1:7] == [
        "c_tf_idf", "documents", "topics", "nr_samples", "nr_repr_docs", "diversity"]
    assert list(inspect.signature(truncate_document).parameters) == ["topic_model", "doc_length", "tokenizer", "document"]


def _written_defaults(function) -> dict[str, str]:
    """Each parameter's default as its source writes it (``"Settings.nr_docs"``, ``"8"``)."""
    import ast
    import inspect
    import textwrap

    node = next(n for n in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(function))))
                if isinstance(n, ast.FunctionDef))
    positional = node.args.args[len(node.args.args) - len(node.args.defaults):]
    written = {a.arg: ast.unparse(d) for a, d in zip(positional, node.args.defaults)}
    written.update({a.arg: ast.unparse(d) for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults) if d is not None})
    return written


def test_the_settings_are_the_one_source_of_every_labeling_default(small_llm):
    """The labeler package stands alone (it imports no helpers.settings): its defaults are its own, written as
    values, and they are the settings' values (checked here, so neither drifts from the other); the series
    builds it with :func:`llm_representation`, which passes every one of them from the run's settings."""
    import inspect

    from helpers.labels import llm_representation
    from helpers.llm import load_llm
    from helpers.settings import Settings, resolve_settings

    defaults = {k: p.default for k, p in inspect.signature(BatchedTextGeneration.__init__).parameters.items()}
    assert {k: defaults[k] for k in ("nr_docs", "batch_size", "max_new_tokens", "candidates", "random_state")} == {
        "nr_docs": Settings.nr_docs, "batch_size": Settings.label_batch_size,
        "max_new_tokens": Settings.label_max_new_tokens, "candidates": Settings.label_candidates,
        "random_state": Settings.seed}
    assert not any(v.startswith("Settings.") for v in _written_defaults(BatchedTextGeneration.__init__).values())
    assert _written_defaults(load_llm)["quantization"] == "Settings.quantization"

    def copied(batch_size=8, nr_docs=Settings.nr_docs):
        """What the check reads: a literal default, and one read from Settings."""

    assert _written_defaults(copied) == {"batch_size": "8", "nr_docs": "Settings.nr_docs"}
    settings = resolve_settings("offline", label_batch_size=3, label_candidates=2, seed=7, nr_docs=5,
                                label_max_new_tokens=17)
    llm = llm_representation(settings, None, "[KEYWORDS]")
    assert (llm.batch_size, llm.max_new_tokens, llm.candidates, llm.random_state, llm.nr_docs, llm.doc_length) == (
        3, 17, 2, 7, 5, settings.label_doc_words), "every default passed from the settings, none left to the package"
    reference = llm_representation(resolve_settings("offline", label_method="reference"), small_llm[2], "[KEYWORDS]")
    assert type(reference).__name__ == "TextGeneration" and reference.doc_length == settings.label_doc_words


def test_long_documents_are_cut_to_the_models_window_and_the_table_says_how_much(small_llm, monkeypatch):
    """Issue 37 (7): with whole documents (colab-t4: label_doc_words None) four long reports overflowed the model's
    window (Llama-2: 4,096 tokens). Here the window is 512: each prompt and its answer fit it, only the documents
    are shortened (all four still there), the instruction, keywords and chat template are whole, and the label
    table says how many tokens were cut."""
    import pandas as pd

    from helpers.labels import labels_table
    from helpers.prompts import build_prompt
    from helpers.settings import PACKAGED_LLM

    tokenizer, _, generator = small_llm
    monkeypatch.setattr(tokenizer, "model_max_length", 512)
    report = " ".join(["The central bank raised interest rates again to curb inflation, its governor said."] * 30)
    docs = [f"Report {i}: {report}" for i in range(4)] + ["Film awards: the Oscar for best actor."] * 4
    documents = pd.DataFrame({"Document": docs, "Topic": [0] * 4 + [1] * 4, "ID": range(8)})
    topics = {0: [("bank", 0.5), ("rates", 0.4), ("inflation", 0.3)], 1: [("film", 0.5), ("awards", 0.4)]}
    template = build_prompt(PACKAGED_LLM, tokenizer)
    head, tail = template.split("[DOCUMENTS]")
    llm = BatchedTextGeneration(generator, template, max_new_tokens=16, key_phrases=0, show_progress=False)
    llm.extract_topics(FakeTopicModel(), documents, None, topics)
    fitted = FakeTopicModel()
    fitted.topics_ = documents.Topic.tolist()
    table = labels_table(fitted, llm, docs).set_index("topic")
    for record in llm.records_:
        prompt, words = record["prompt"], ", ".join(w for w, _ in topics[record["topic"]])
        assert len(tokenizer(prompt, add_special_tokens=False).input_ids) + 16 <= 512, record["topic"]
        assert prompt.startswith(head) and prompt.endswith(tail.replace("[KEYWORDS]", words)), "instruction whole"
    cut = next(r["prompt"] for r in llm.records_ if r["topic"] == 0)
    assert all(f"- Report {i}: The central bank" in cut for i in range(4)), "every document shortened, none dropped"
    assert table.loc[0, "prompt_cut_tokens"] > 1000 and table.loc[1, "prompt_cut_tokens"] == 0


def test_cleaning_keeps_what_made_the_answer_a_name():
    """Issue 35's examples, the model's answers as given: a repeated headline is one headline (and the token
    budget's cut of its third copy does not take "Legacy" from the first), a repair that cuts an invented year
    takes the possessive it left owning nothing, a phrase said twice side by side is said once."""
    from helpers.labeler._clean import clean_label, ends_where_answered, repair_label
    from helpers.labeler._rubric import is_repetitive

    blair = "The Blair Legacy: The Blair Legacy: The Blair Legacy"
    assert clean_label(blair) == "The Blair Legacy" and not ends_where_answered("The Blair Legacy", blair)
    assert repair_label(clean_label(blair), budget_hit=ends_where_answered(clean_label(blair), blair)) == "The Blair Legacy"
    assert ends_where_answered("Chelsea's 2018", "Label: Chelsea's 2018")
    assert repair_label("Liverpool's Champions League victory and Chelsea's 2018", budget_hit=True) == \
        "Liverpool's Champions League victory"
    assert clean_label("Investor-led companies Investor-Led Companies") == "Investor-led companies"
    assert clean_label("The Best Celebrity Celebrity TV Show") == "The Best Celebrity TV Show"
    # names are not spoiled: a doubled word the documents double too, a possessive nothing was cut from
    assert clean_label("Duran Duran reunion", "- Duran Duran reunite for a tour\n") == "Duran Duran reunion"
    for name in ("Profits at Sainsbury's", "Tesco and Sainsbury's", "Man Utd vs Man City",
                 "Privacy-Preserving Machine Learning: Federated Learning"):
        assert repair_label(clean_label(name)) == name and not is_repetitive(name), name
    assert repair_label("Spurs' Victory Over Chelsea's 2018", budget_hit=True) == "Spurs' Victory"
    assert clean_label(" ".join(["a a b b"] * 300)) == "a b", "a long loop collapses, quickly"
