"""The post's code, as the post writes it, in the cell that teaches it (issue 34, item 1).

Each block below is a range of lines of the post (``../shared/seed/``, as the seed shows it) and the tagged
notebook cell that teaches it. Every non-blank line of the block must be a line of that cell, in the post's
order; where the cell reads a value from ``settings`` (a model id, a size, the seed) the post's literal
stands in its place. Where the seed cuts a call short, the cell completes it (its other lines are ours,
marked ``# ours`` where they change the post). A taught cell holds no branch of its own: an ``if``, a
``try`` or a conditional expression is allowed only on a line of the post (its ``device = ... if ... else``).

A line that fails on today's libraries may take one keyword argument (a literal) at its end, marked ``# ours: <why>`` on that
line (04's ``sns.scatterplot(..., legend=False)``: seaborn 0.13 fails building a legend from ``c=``).
A line may also stand behind one helper call whose name says what it adds: ``x = cached(f, a, settings)`` for the
post's ``x = f(a)`` (03's 2-D reduction, computed once and read back).

Not yet written this way (still ours, noted in the issue's closing note): 00's and 03's corpus loading
(``load_dataset``), 03's embedding (its ``embedding_model`` would rebind the parameter of that name; bf16, the
128-token window and a server are ours), 03's representations (``TextGeneration`` takes only a local pipeline, and 03
labels through a server or from recorded answers too) and its ``llama2_labels`` line (our aspect is called "LLM").
"""

import ast
import re
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.same_on_any_cpu  # the post's lines in the cells: no precision changes it

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT.parent / "shared" / "seed" / "topic_modeling_with_llama2.txt"
NOTEBOOKS = ROOT / "notebooks"

# (notebook, cell tag) -> the post's lines it teaches, as 1-based inclusive ranges of the seed
BLOCKS = {
    ("01_quantized_loading", "teach:device"): [(87, 90)],
    ("01_quantized_loading", "teach:bnb-config"): [(100, 108)],
    ("01_quantized_loading", "teach:load"): [(124, 128), (132, 134)],
    ("02_prompt_engineering", "teach:prompt"): [(179, 182), (190, 201), (207, 213), (222, 222)],
    ("03_topic_modeling", "teach:submodels"): [(246, 250)],
    ("03_topic_modeling", "teach:reduce-2d"): [(254, 255)],
    ("03_topic_modeling", "teach:bertopic"): [(282, 291)],
    ("04_visualization", "teach:documents"): [(314, 315)],
    ("04_visualization", "teach:static-map"): [(323, 340), (344, 365)],
}
SETTING = re.compile(r"settings\.\w+")
# ours behind one helper call whose name says what it adds: `x = cached(f, a, settings)` for the post's `x = f(a)`
CACHED = re.compile(r"(\w+) = cached\((.+), (\w+), settings\)")
# a line of the post that fails on today's libraries: keyword arguments added at its end, marked why
FIXED = re.compile(r"(.+), \w+=(?:True|False|None|-?\d+(?:\.\d+)?|'[^']*'|\"[^\"]*\")\)  # ours: .+")
LITERAL = re.compile(r"""'[^']*'|"[^"]*"|-?\d+(?:\.\d+)?""")


def post_lines(ranges) -> list[str]:
    lines = SEED.read_text(encoding="utf-8").splitlines()
    return [lines[i - 1].strip() for start, end in ranges for i in range(start, end + 1) if lines[i - 1].strip()]


def cell(notebook: str, tag: str):
    cells = [c for c in nbformat.read(NOTEBOOKS / f"{notebook}.ipynb", as_version=4).cells
             if tag in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{notebook}: {len(cells)} cells tagged {tag!r}"
    return cells[0].source


def same_line(ours: str, post: str) -> bool:
    """``ours`` is ``post``, with ``settings.X`` where the post has a literal (a value, never code), or the
    post's expression given a name (``fig = topic_model.visualize_documents(...``)."""
    if ours == post or re.fullmatch(r"\w+ = " + re.escape(post), ours):
        return True
    wrapped = CACHED.fullmatch(ours)
    if wrapped:
        return same_line(f"{wrapped[1]} = {wrapped[2]}({wrapped[3]})", post)
    fixed = FIXED.fullmatch(ours)
    if fixed:
        return same_line(fixed[1] + ")", post)
    pattern = "".join(f"({LITERAL.pattern})" if SETTING.fullmatch(part) else re.escape(part)
                      for part in re.split(f"({SETTING.pattern})", ours))
    return SETTING.search(ours) is not None and re.fullmatch(pattern, post) is not None


def matched(source: str, wanted: list[str]) -> tuple[list[int], list[str]]:
    """The cell's line numbers (1-based) holding the post's lines in order, and the post's lines not found."""
    lines, found, missing, at = [line.strip() for line in source.splitlines()], [], [], 0
    for post in wanted:
        hit = next((i for i in range(at, len(lines)) if same_line(lines[i], post)), None)
        if hit is None:
            missing.append(post)
        else:
            found.append(hit + 1)
            at = hit + 1
    return found, missing


@pytest.mark.parametrize("notebook,tag", sorted(BLOCKS), ids=lambda v: v)
def test_the_posts_lines_are_in_the_cell_that_teaches_them(notebook, tag):
    found, missing = matched(cell(notebook, tag), post_lines(BLOCKS[notebook, tag]))
    assert not missing, f"{notebook} [{tag}] lacks the post's lines: {missing}"


@pytest.mark.parametrize("notebook,tag", sorted(BLOCKS), ids=lambda v: v)
def test_a_taught_cell_holds_no_branch_of_its_own(notebook, tag):
    source = cell(notebook, tag)
    posts, _ = matched(source, post_lines(BLOCKS[notebook, tag]))
    branches = [node.lineno for node in ast.walk(ast.parse(source))
                if isinstance(node, (ast.If, ast.IfExp, ast.Try, ast.Match)) and node.lineno not in posts]
    assert not branches, f"{notebook} [{tag}]: a branch on line(s) {branches}: it belongs in the next cell, marked '# ours'"


def test_the_check_itself_tells_a_setting_from_other_code():
    assert same_line("model_id = settings.llm_model", "model_id = 'meta-llama/Llama-2-13b-chat-hf'")
    assert same_line("umap_model = UMAP(n_neighbors=15, random_state=settings.seed)",
                     "umap_model = UMAP(n_neighbors=15, random_state=42)")
    assert not same_line("umap_model = UMAP(n_neighbors=15, random_state=settings.seed)",
                         "umap_model = UMAP(n_neighbors=5, random_state=42)")
    assert not same_line("model = load(settings.llm_model)", "model = AutoModel.from_pretrained(model_id)")
    assert not same_line('bnb_4bit_quant_type="nf4",', "bnb_4bit_quant_type='nf4',  # Normalized float 4")
    assert same_line("fig = topic_model.visualize_documents(titles,", "topic_model.visualize_documents(titles,")
    assert not same_line("fig = other(topic_model.visualize_documents(titles,", "topic_model.visualize_documents(titles,")
    assert same_line("sns.scatterplot(data=df, size='Length', legend=False)  # ours: fails otherwise",
                     "sns.scatterplot(data=df, size='Length')")
    assert not same_line("sns.scatterplot(data=df, size='Length', legend=False)", "sns.scatterplot(data=df, size='Length')")
    assert not same_line("sns.scatterplot(data=df, size='Width', legend=False)  # ours: no", "sns.scatterplot(data=df, size='Length')")
    assert not same_line("sns.scatterplot(data=df, size='Length', legend=a if b else c)  # ours: no",
                         "sns.scatterplot(data=df, size='Length')"), "a branch is no literal"
    assert not same_line("sns.scatterplot(data=df, size=Length, legend=False)  # ours: no", "sns.scatterplot(data=df, size='Length')")
    assert same_line("xy = cached(UMAP(random_state=settings.seed).fit_transform, embeddings, settings)",
                     "xy = UMAP(random_state=42).fit_transform(embeddings)")
    assert not same_line("xy = cached(UMAP(n_components=5).fit_transform, embeddings, settings)",
                         "xy = UMAP(n_components=2).fit_transform(embeddings)")


def test_the_post_topics_notebook_03_shows_are_the_posts_printed_tables():
    """Each of ``helpers.post_topics``' six rows is a row of the post's printed tables: topic, size, c-TF-IDF keywords
    and Llama 2's label, letter for letter."""
    from helpers.post_topics import POST_TOPICS

    rows = {}
    for line in SEED.read_text(encoding="utf-8").splitlines():
        found = re.match(r"^\d+ (\d+) (\d+) \[([^\]]*)\] \[[^\]]*\] \[‘([^’]*)’", line)
        if found:
            words = re.findall(r"‘([^’]*)’", found.group(3))
            rows[int(found.group(1))] = dict(topic=int(found.group(1)), count=int(found.group(2)), keywords=words,
                                             llama2=found.group(4))
    assert len(rows) == 6
    assert {r["topic"]: r for r in POST_TOPICS} == rows
