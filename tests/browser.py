"""Open an HTML artifact the way a person would: in headless Chromium, with the network cut.

``render(html, out_dir)`` returns the DOM after the page's scripts ran and a screenshot.
Chromium is Debian's ``chromium`` package (``.ci/run`` installs it); tests skip with the
reason when it is absent (in CI, where $CI is set, they fail instead). The network is cut inside the browser: every host name resolves
to nothing and every request goes to a closed local proxy, so a page that loads its
scripts from a CDN renders blank here as it would on a workshop laptop without wifi.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

OFFLINE_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--proxy-server=127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=15000", "--window-size=1400,1000",
)


def chromium() -> str:
    """The Chromium executable, or skip the calling test saying how to get one."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        message = "Chromium is not installed (Debian: apt-get install chromium; .ci/run installs it)"
        if os.environ.get("CI"):  # in CI a browser test that cannot open a browser fails: a skip would hide it
            pytest.fail(message)
        pytest.skip(message)
    return path


def render(page: Path, out_dir: Path) -> tuple[str, np.ndarray]:
    """``(dom, screenshot)``: the page's DOM after its scripts ran, and an RGB array of what it shows."""
    from PIL import Image

    exe, url = chromium(), Path(page).resolve().as_uri()
    profile = Path(out_dir) / f"chromium-{Path(page).stem}"
    png = Path(out_dir) / f"{Path(page).stem}.png"
    common = [exe, *OFFLINE_FLAGS, f"--user-data-dir={profile}"]
    subprocess.run([*common, f"--screenshot={png}", url], capture_output=True, timeout=120, check=True)
    dom = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True).stdout
    return dom, np.asarray(Image.open(png).convert("RGB"))


def svg_texts(dom: str, css_class: str) -> list[str]:
    """The text of every SVG ``<text class="css_class ...">`` element plotly.js drew."""
    pattern = rf'<text[^>]*class="[^"]*\b{re.escape(css_class)}\b[^"]*"[^>]*>(.*?)</text>'
    return [html.unescape(re.sub(r"<[^>]+>", " ", t)).strip() for t in re.findall(pattern, dom, flags=re.S)]


def colors_shown(image: np.ndarray, min_pixels: int = 30) -> int:
    """How many distinct saturated colors cover at least ``min_pixels`` pixels (greys and white excluded)."""
    pixels = image.reshape(-1, 3).astype(int)
    saturated = pixels[(pixels.max(axis=1) - pixels.min(axis=1)) > 60] // 16
    if not len(saturated):
        return 0
    _, counts = np.unique(saturated, axis=0, return_counts=True)
    return int((counts >= min_pixels).sum())


def tick_texts(dom: str, axis: str = "y") -> list[str]:
    """The tick labels plotly.js drew on the ``axis`` axis."""
    ticks = re.findall(rf'<g class="{axis}tick">(.*?)</g>', dom, flags=re.S)
    return [html.unescape(re.sub(r"<[^>]+>", " ", t)).strip() for t in ticks]
