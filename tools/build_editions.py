"""Build the executed editions in editions/: every notebook run offline, its outputs kept, readable on GitHub.

    python tools/build_editions.py               # run the series on a sample and (re)write editions/
    python tools/build_editions.py --check       # exit 1 naming each edition that no longer matches its sources

`make editions` runs the first. A learner browsing the repository sees in editions/ what each notebook shows
when it runs (the topics, the labels, the maps, the evaluation table) without running anything. The series runs
through the project's runner (``python tools/run.py``, exercise solutions not run) on ``SAMPLE_SIZE``
documents of the offline default; then each executed notebook is made small and stable:

- plotly figures (BERTopic's ``visualize_*``) become static PNGs, drawn by headless Chromium from the
  figure's own JSON with plotly.js inlined (no network); other HTML outputs over ``MAX_HTML`` are dropped
  with a note; every PNG is kept under ``MAX_IMAGE`` bytes (fewer colors, then smaller);
- progress-bar widgets are dropped (the runner turns bars off, but ``tqdm.notebook`` ignores ``TQDM_DISABLE``);
  another widget (which GitHub cannot show) becomes the text line of its final state;
- the run folder, the home folder and the repository become ``runs/edition``, ``~`` and ``.``; papermill's
  timings and paths are removed from the metadata;
- the exercise solutions are the notebook's own code cells again, not run (try them yourself).

Each edition records in its metadata (``edition``) a hash of what it was built from: the source notebook's
cells, every ``helpers/`` module, the runner (``tools/run.py``, ``tools/overwrite.py``), this script and the
requirements files. ``tests/test_editions.py``
recomputes it without running anything and fails, naming the edition, when it differs.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional

import nbformat

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
OUT = REPO / "editions"
SAMPLE_SIZE = 1000  # documents of the offline default: the whole series runs in about 4 minutes on 2 cores
MAX_IMAGE = 900_000  # bytes of one PNG, decoded
MAX_HTML = 200_000  # characters of one HTML output
PLOTLY = "application/vnd.plotly.v1+json"
WIDGET = "application/vnd.jupyter.widget-view+json"
REQUIREMENTS = ("requirements.txt", "requirements-dev.txt", "requirements-nodeps.txt", "requirements-dev-nodeps.txt")
SECRET_VARIABLES = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACEHUB_API_TOKEN", "OPENAI_API_KEY")
RUN_NAME = "edition"


def notebooks() -> list[Path]:
    """The numbered notebooks, as the runner finds them (a new one gets an edition with no change here)."""
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()


def _text(path: Path) -> bytes:
    """A file's bytes with line endings made \\n, so a Windows checkout hashes the same."""
    return path.read_bytes().replace(b"\r\n", b"\n")


def cells_hash(cells: list) -> str:
    """A notebook's cells by their types, sources and tags (not by outputs or other metadata)."""
    return _digest(json.dumps(
        [[c.cell_type, c.source.replace("\r\n", "\n"), sorted(c.metadata.get("tags", []))] for c in cells]).encode())


def code_hashes() -> dict[str, str]:
    """Every ``helpers/**/*.py`` (names and contents), the runner, this script and the requirements files, hashed."""
    helpers = sorted(p for p in (REPO / "helpers").rglob("*.py") if "__pycache__" not in p.parts)
    return {
        "helpers": _digest(*(p.relative_to(REPO).as_posix().encode() + b"\0" + _text(p) for p in helpers)),
        "runner": _digest(*(_text(Path(__file__).resolve().parent / name) for name in ("run.py", "overwrite.py"))),
        "build script": _digest(_text(Path(__file__).resolve())),
        "requirements": _digest(*(_text(REPO / name) for name in REQUIREMENTS if (REPO / name).exists())),
    }


def source_hashes(notebook: Path, cells: Optional[list] = None, code: Optional[dict] = None) -> dict[str, str]:
    """What an edition of ``notebook`` is built from, hashed part by part, and ``all`` of it together: its
    ``cells`` (default: as the file holds them now) and the ``code`` (default: :func:`code_hashes` now)."""
    cells = nbformat.read(notebook, as_version=4).cells if cells is None else cells
    parts = {"notebook": cells_hash(cells), **(code_hashes() if code is None else code)}
    return {**parts, "all": _digest(*(f"{k}={v}".encode() for k, v in parts.items()))}


def cells_run(executed: nbformat.NotebookNode) -> list:
    """The source notebook's cells as the runner read them, from its executed copy: without papermill's
    injected parameters, the solutions (raw cells in the run) code cells again."""
    cells = []
    for cell in executed.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" not in tags:
            cells.append(nbformat.v4.new_code_cell(cell.source, metadata=cell.metadata)
                         if cell.cell_type == "raw" and "solution" in tags else cell)
    return cells


def stale_reasons(notebook: Path, edition: Path) -> list[str]:
    """Why ``edition`` is not what ``make editions`` would build from ``notebook`` now (empty: it is)."""
    if not edition.exists():
        return ["it does not exist"]
    recorded = nbformat.read(edition, as_version=4).metadata.get("edition", {}).get("source_hashes", {})
    current = source_hashes(notebook)
    if recorded.get("all") == current["all"]:
        return []
    return [f"the {part} changed" for part in current if part != "all" and recorded.get(part) != current[part]] or [
        "its recorded hash differs"]


def run_series(runs: Path, sample_size: int) -> Path:
    """The runner over every notebook into ``runs/RUN_NAME``, without the secrets of this shell."""
    env = {k: v for k, v in os.environ.items() if k not in SECRET_VARIABLES}
    command = [sys.executable, str(REPO / "tools" / "run.py"), "--runs", str(runs), "--name", RUN_NAME,
               "-p", "sample_size", str(sample_size)]
    print(f"[editions] {' '.join(command[1:])}", flush=True)
    subprocess.run(command, cwd=REPO, env=env, check=True)
    return runs / RUN_NAME


def chromium() -> str:
    """Headless Chromium draws the plotly figures; one sentence when it is missing."""
    path = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not path:
        raise SystemExit("make editions draws the plotly figures with headless Chromium, which is not installed: "
                         "install it (Debian: apt-get install chromium) and run it again.")
    return path


def plotly_png(figure: dict, scratch: Path) -> bytes:
    """A PNG of a plotly figure (its notebook JSON), drawn offline by headless Chromium at the figure's size."""
    from plotly.offline import get_plotlyjs

    layout = figure.get("layout", {})
    width, height = int(layout.get("width") or 1000), int(layout.get("height") or 600)
    page = scratch / "figure.html"
    page.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><style>body{margin:0}</style>"
        f"<script>{get_plotlyjs()}</script></head><body><div id='figure'></div><script>"
        f"Plotly.newPlot('figure', {json.dumps(figure.get('data', []))}, "
        f"Object.assign({json.dumps(layout)}, {{width: {width}, height: {height}}}), {{staticPlot: true}});"
        "</script></body></html>", encoding="utf-8")
    png = scratch / "figure.png"
    png.unlink(missing_ok=True)
    subprocess.run(
        [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
         "--disable-background-networking", "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
         "--force-device-scale-factor=1", f"--window-size={width},{height}", "--virtual-time-budget=15000",
         f"--user-data-dir={scratch / 'profile'}", f"--screenshot={png}", page.as_uri()],
        capture_output=True, timeout=180, check=True)
    return png.read_bytes()


def small_png(data: bytes, limit: int = MAX_IMAGE) -> bytes:
    """``data`` (a PNG) under ``limit`` bytes: as it is when it fits, else 256 colors, then halved until it fits."""
    from PIL import Image

    if len(data) <= limit:
        return data
    image = Image.open(io.BytesIO(data)).convert("RGB")
    while True:
        buffer = io.BytesIO()
        image.quantize(256).save(buffer, format="PNG", optimize=True)
        if buffer.tell() <= limit or min(image.size) < 200:
            return buffer.getvalue()
        image = image.resize((image.width // 2, image.height // 2), Image.LANCZOS)


def widget_parts(model_id: str, state: dict) -> list[dict]:
    """The states of the widgets the box ``model_id`` holds, as its final state (``state``) records them."""
    children = state.get(model_id, {}).get("state", {}).get("children", [])
    return [state.get(child.removeprefix("IPY_MODEL_"), {}).get("state", {}) for child in children]


def progress_bar(model_id: str, state: dict) -> bool:
    """Whether the widget ``model_id`` is a progress bar (a box holding a bar with a ``max``): an edition shows none."""
    return any("max" in part for part in widget_parts(model_id, state))


def widget_text(model_id: str, state: dict) -> str:
    """The text a widget that is no progress bar shows, as its final state holds it (its HTML labels)."""
    return "".join(html.unescape(part["value"]).replace("\u2007", " ") for part in widget_parts(model_id, state)
                   if isinstance(part.get("value"), str)).strip()


def static_output(output: dict, widgets: dict, scratch: Path):
    """``output`` as GitHub can show it (see the module docstring), or ``None`` to drop it."""
    data = output.get("data", {})
    if PLOTLY in data:
        png = small_png(plotly_png(data[PLOTLY], scratch))
        return nbformat.v4.new_output("display_data", data={
            "image/png": base64.b64encode(png).decode(),
            "text/plain": "A static image of an interactive plotly figure: run the notebook to hover and zoom."})
    if WIDGET in data:
        model_id = data[WIDGET].get("model_id", "")
        if progress_bar(model_id, widgets):  # tqdm.notebook ignores TQDM_DISABLE (transformers' GGUF conversion)
            return None
        text = widget_text(model_id, widgets)
        return nbformat.v4.new_output("stream", name="stdout", text=text + "\n") if text else None
    if "text/html" in data and len(data["text/html"]) > MAX_HTML:
        return nbformat.v4.new_output("display_data", data={
            "text/plain": f"(An HTML output of {len(data['text/html']):,} characters, left out of this edition: "
                          "run the notebook to see it.)"})
    if "image/png" in data:
        data["image/png"] = base64.b64encode(small_png(base64.b64decode(data["image/png"]))).decode()
    return output


LOG_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} - ", flags=re.M)


def terminal_text(text: str) -> str:
    """A stream as a terminal leaves it: each line's last ``\\r`` state (tqdm's final bar), log lines without
    their clock time (which would change every build)."""
    lines = [line.rstrip("\r").rsplit("\r", 1)[-1] for line in text.split("\n")]
    return LOG_TIME.sub("", "\n".join(lines))


def merged_streams(outputs: list) -> list:
    """``outputs`` with consecutive prints to the same stream joined into one block, as a terminal shows them."""
    merged = []
    for output in outputs:
        if output.output_type == "stream":
            output.text = terminal_text(output.text)
        last = merged[-1] if merged else None
        if last and output.output_type == "stream" == last.output_type and output.name == last.name:
            last.text += output.text
        else:
            merged.append(output)
    return merged


def neutral(text: str, run_dir: Path) -> str:
    """``text`` with this machine's paths made neutral: the run folder, the home folder, the repository."""
    for path, name in ((run_dir, f"runs/{RUN_NAME}"), (run_dir.parent, "runs"), (REPO, "."), (Path.home(), "~")):
        text = text.replace(str(path), name)
    return text


def edition_of(source: Path, executed: Path, code: dict, scratch: Path) -> nbformat.NotebookNode:
    """The edition of notebook ``source`` from its executed copy: static outputs, neutral paths, no timings,
    the exercise solutions back as (unrun) code cells, a first cell saying what it is, and the hashes of the
    cells that ran and of the ``code`` (:func:`code_hashes`) as it was when the run started."""
    nb = nbformat.read(executed, as_version=4)
    hashes = source_hashes(source, cells_run(nb), code)
    widgets = nb.metadata.pop("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    nb.metadata.pop("papermill", None)
    run_dir = executed.parent
    for i, cell in enumerate(nb.cells):
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.cell_type == "raw" and "solution" in cell.metadata.get("tags", []):
            nb.cells[i] = nbformat.v4.new_code_cell(cell.source, metadata=cell.metadata, id=cell.id)
            continue
        cell.source = neutral(cell.source, run_dir)
        if cell.cell_type == "code":
            outputs = [static_output(o, widgets, scratch) for o in cell.outputs]
            outputs = [nbformat.from_dict(json.loads(neutral(json.dumps(o), run_dir))) for o in outputs if o]
            cell.outputs = merged_streams(outputs)
    nb.cells.insert(0, nbformat.v4.new_markdown_cell(
        f"*Executed edition of [`notebooks/{source.name}`](../notebooks/{source.name}): the offline default on "
        f"{SAMPLE_SIZE:,} documents, run on a CPU by `make editions` (interactive figures shown as images, exercise "
        "solutions not run). Read it here; open the notebook in `notebooks/` to run and change it.*",
        metadata={"tags": ["edition-note"]}))
    for i, cell in enumerate(nb.cells):  # ids by position, not random: a rebuild changes only what changed
        if "id" in cell:
            cell.id = f"cell-{i:03d}"
    nb.metadata["edition"] = {"built_by": "make editions (tools/build_editions.py)", "sample_size": SAMPLE_SIZE,
                              "source_hashes": hashes}
    return nb


def check_no_secrets(folder: Path) -> None:
    """Fail (without printing the value) when a secret of this shell appears in a written edition."""
    secrets = [os.environ[k] for k in SECRET_VARIABLES if len(os.environ.get(k, "")) >= 8]
    for path in folder.glob("*.ipynb"):
        if any(secret in path.read_text() for secret in secrets):
            raise SystemExit(f"{path.name} holds the value of a secret environment variable; nothing was written.")


def build() -> list[Path]:
    """Run the series, write every edition into editions/ (replacing what was there) and return their paths."""
    sources = notebooks()
    chromium()  # before the run, not after four minutes
    # the code the run starts from: a helper edited during the run leaves the editions stale (the test says so)
    code = code_hashes()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run_dir = run_series(tmp / "runs", SAMPLE_SIZE)
        staged = tmp / "editions"
        staged.mkdir()
        (tmp / "scratch").mkdir()
        for source in sources:
            nb = edition_of(source, run_dir / source.name, code, tmp / "scratch")
            nbformat.validate(nb)
            nbformat.write(nb, staged / source.name)
        check_no_secrets(staged)
        OUT.mkdir(exist_ok=True)
        for old in OUT.glob("*.ipynb"):
            old.unlink()
        for path in sorted(staged.glob("*.ipynb")):
            shutil.copyfile(path, OUT / path.name)
    changed = [p.name for p in sources if stale_reasons(p, OUT / p.name)]
    if changed:
        print(f"[editions] changed while the series ran, so their editions are stale: {', '.join(changed)}; "
              "run `make editions` again", flush=True)
    return sorted(OUT.glob("*.ipynb"))


def check() -> int:
    """0 when every notebook's edition matches its sources, else 1 after saying which and why."""
    stale = {p.name: stale_reasons(p, OUT / p.name) for p in notebooks()}
    extra = sorted({p.name for p in OUT.glob("*.ipynb")} - set(stale))
    for name, reasons in stale.items():
        if reasons:
            print(f"editions/{name} is stale ({'; '.join(reasons)}): run `make editions`")
    for name in extra:
        print(f"editions/{name} has no notebook in notebooks/: run `make editions`")
    return 1 if extra or any(stale.values()) else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only say which editions are stale (exit 1 if any)")
    args = parser.parse_args(argv)
    if args.check:
        return check()
    paths = build()
    size = sum(p.stat().st_size for p in paths)
    print(f"[editions] wrote {len(paths)} editions into {OUT.relative_to(REPO)}/ ({size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
