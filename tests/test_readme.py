"""The README is a front page (issue 36, item 1): short, Colab first, and every link in it and in docs/ works."""

import ast
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.same_on_any_cpu  # the README's budget and links: no precision changes it

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
MAX_WORDS = 1200


def _constant(paths: list[Path], name: str) -> str:
    """A module-level string constant, read without importing the module, from whichever file defines it."""
    for path in paths:
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
                return ast.literal_eval(node.value)
    raise AssertionError(f"no module-level {name} in {[p.name for p in paths]}")


def _without_code(text: str) -> str:
    """The Markdown without fenced blocks and inline code: a link there is an example, not a link."""
    text = re.sub(r"(?ms)^\s*```.*?^\s*```", "", text)
    return re.sub(r"`[^`\n]*`", "", text)


def _headings(text: str) -> list[str]:
    return [m.group(1).strip() for m in re.finditer(r"(?m)^#{1,6}\s+(.+?)\s*#*\s*$", _without_code_blocks(text))]


def _without_code_blocks(text: str) -> str:
    return re.sub(r"(?ms)^\s*```.*?^\s*```", "", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped (``-`` and ``_`` kept), each space a '-'."""
    text = re.sub(r"`", "", heading).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor of a Markdown file, repeated headings numbered as GitHub does (``-1``, ``-2``)."""
    seen: dict[str, int] = {}
    out = set()
    for heading in _headings(path.read_text(encoding="utf-8")):
        base = slug(heading)
        n = seen.get(base, 0)
        out.add(base if n == 0 else f"{base}-{n}")
        seen[base] = n + 1
    return out


def relative_links(path: Path) -> list[str]:
    """The targets of the links and images of a Markdown file that point inside the repository."""
    targets = re.findall(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", _without_code(path.read_text(encoding="utf-8")))
    return [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:", t, re.I)]


def _shown(path: Path) -> str:
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def broken_links(path: Path) -> list[str]:
    broken = []
    for target in relative_links(path):
        file_part, _, anchor = target.partition("#")
        where = (path.parent / file_part).resolve() if file_part else path
        if not where.exists():
            broken.append(f"{target}: no file {_shown(where)}")
        elif anchor and where.suffix == ".md" and anchor not in anchors(where):
            broken.append(f"{target}: no heading with the anchor #{anchor} in {_shown(where)}")
    return broken


def _sections(text: str) -> list[tuple[str, str]]:
    """(heading, body) of every ``##`` section, in order."""
    parts = re.split(r"(?m)^## +(.+)$", _without_code_blocks(text))
    return list(zip(parts[1::2], parts[2::2]))


def test_the_readme_is_under_1200_words():
    words = len(README.read_text(encoding="utf-8").split())
    assert words < MAX_WORDS, f"README.md has {words} words (code blocks included): move detail to docs/"


def test_the_colab_steps_come_right_after_the_introduction():
    text = README.read_text(encoding="utf-8")
    heading, body = _sections(text)[0]
    assert "colab" in heading.lower(), f"the README's first section is {heading!r}, not the Colab steps"
    steps = re.findall(r"(?m)^\d\. ", body)
    assert len(steps) == 3, f"the Colab section has {len(steps)} numbered steps, not three"
    assert "HF_TOKEN" in body, "the Colab steps do not name the HF_TOKEN secret"
    assert "https://huggingface.co/meta-llama/Llama-2-13b-chat-hf" in body, "no link to request Llama 2 access"
    assert re.search(r"licen[cs]e", body) and re.search(r"days", body), "no word on the licence and its delay"
    ungated = _constant(sorted((ROOT / "helpers").glob("*.py")), "NON_GATED_CHAT_MODEL")
    assert f'llm_model = "{ungated}"' in body, f"the Colab steps do not offer the ungated {ungated!r} as llm_model"
    repo = _constant([ROOT / "tools" / "build_colab.py"], "GITHUB_REPO")
    badge = f"https://colab.research.google.com/github/{repo}/blob/main/colab/all_in_one.ipynb"
    assert badge in body, "the Colab steps do not open the all-in-one edition's badge"
    assert "T4" in body


def test_every_relative_link_of_the_readme_and_docs_points_at_a_file_and_heading():
    broken = {p.relative_to(ROOT).as_posix(): b for p in [README, *DOCS] if (b := broken_links(p))}
    assert not broken, broken


def test_the_link_check_catches_a_broken_link(tmp_path):
    (tmp_path / "there.md").write_text("# A heading: with `code`, punctuation\n\n## Again\n\n## Again\n")
    page = tmp_path / "page.md"
    page.write_text("[ok](there.md#a-heading-with-code-punctuation) [ok](there.md#again-1) [web](https://x.org/y)\n"
                    "`[example](nowhere.md)`\n\n[gone](missing.md) [bad anchor](there.md#nope) [self](#nothing)\n")
    assert [b.split(":")[0] for b in broken_links(page)] == ["missing.md", "there.md#nope", "#nothing"]


@pytest.mark.parametrize("heading, anchor", [
    ("02 · Prompt engineering for topic labels", "02--prompt-engineering-for-topic-labels"),
    ("Run time: the series, its stages and this machine's limit (`benchmarks/run.py`)",
     "run-time-the-series-its-stages-and-this-machines-limit-benchmarksrunpy"),
    ("Running again: `--overwrite`", "running-again---overwrite"),
])
def test_slugs_follow_githubs_rules(heading, anchor):
    assert slug(heading) == anchor


def test_the_readme_links_every_docs_page():
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in relative_links(README)}
    orphans = [p.name for p in DOCS if p.resolve() not in linked]
    assert not orphans, f"docs pages the README does not link: {orphans}"


def test_the_readme_picture_is_small():
    images = [t for t in relative_links(README) if t.lower().endswith((".png", ".jpg", ".jpeg", ".svg", ".gif"))]
    assert images, "the README shows no picture"
    for image in images:
        size = (ROOT / image).stat().st_size
        assert size < 300_000, f"{image} is {size:,} bytes: keep the README's picture under 300 KB"


def test_the_readme_picture_and_its_caption_are_the_executed_editions_map():
    """The picture is 04's static map as `make editions` last drew it, and the caption names its topic count (after
    `make editions`, refresh it as docs/development.md says)."""
    import base64
    import json

    edition = json.loads((ROOT / "editions" / "04_visualization.ipynb").read_text(encoding="utf-8"))
    cell = next(c for c in edition["cells"] if "ours:static-map" in c["metadata"].get("tags", []))
    png = next(o["data"]["image/png"] for o in cell["outputs"] if "image/png" in o.get("data", {}))
    assert base64.b64decode(png) == (ROOT / "docs" / "images" / "topic_map.png").read_bytes(), (
        "docs/images/topic_map.png is not the edition's map: refresh it (docs/development.md)")
    printed = "".join("".join(o["text"]) for o in cell["outputs"] if o.get("output_type") == "stream")
    drawn = re.search(r"in (\d+) topics drawn", printed).group(1)
    caption = re.search(r"!\[[^]]*?in (\d+) topics", README.read_text(encoding="utf-8")).group(1)
    assert caption == drawn, f"the README's caption says {caption} topics, the edition's map has {drawn}"


def test_the_notebooks_layout_is_described_once():
    """The old README said "Each notebook opens with what you will learn..." twice."""
    said = [p.name for p in [README, *DOCS] for _ in re.finditer(r"Each notebook opens with", p.read_text())]
    assert len(said) <= 1, said


def test_every_make_target_named_exists():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"(?m)^([A-Za-z0-9_.-]+):", makefile))
    named = {t for p in [README, *DOCS] for t in re.findall(r"`make ([a-z0-9-]+)", p.read_text(encoding="utf-8"))}
    assert named, "no make command named"
    assert named <= targets, f"make targets named but not in the Makefile: {sorted(named - targets)}"


def test_every_profile_named_exists():
    from helpers.settings import PROFILES

    named = {m for p in [README, *DOCS] for m in re.findall(r"profile = [\"']([\w-]+)[\"']", p.read_text(encoding="utf-8"))}
    assert named, "no profile named"
    assert named <= set(PROFILES), f"profiles named but not in helpers.settings.PROFILES: {sorted(named - set(PROFILES))}"
