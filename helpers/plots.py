"""Which points notebook 04's static map draws, HTML files that open offline, and notebook 05's metric panels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd


def map_frame(x, y, topics, docs, margin: float = 0.05) -> pd.DataFrame:
    """The points to draw, with an ``outlier`` column: every topic's documents and the outliers near them (within
    ``margin``, a fraction of the topics' extent on each axis), outliers first; ``attrs["left_off"]`` counts the rest,
    ``attrs["note"]`` says so."""
    frame = pd.DataFrame({"x": np.asarray(x, float), "y": np.asarray(y, float), "Topic": [int(t) for t in topics],
                          "Length": [len(d) for d in docs]})
    frame["outlier"] = frame.Topic == -1
    clustered = frame.loc[~frame.outlier]
    inside = pd.Series(True, index=frame.index)
    if len(clustered):
        for axis in ("x", "y"):
            low, high = clustered[axis].min(), clustered[axis].max()
            pad = margin * max(high - low, 1e-9)
            inside &= frame[axis].between(low - pad, high + pad)
    keep = ~frame.outlier | inside
    left_off = int((~keep).sum())
    frame = pd.concat([frame.loc[keep & frame.outlier], frame.loc[keep & ~frame.outlier]]).reset_index(drop=True)
    frame.attrs["left_off"] = left_off
    frame.attrs["note"] = (
        f"{int((~frame.outlier).sum()):,} documents in {frame.loc[~frame.outlier, 'Topic'].nunique()} topics drawn, "
        f"all of them; {int(frame.outlier.sum()):,} outliers (topic -1) drawn in grey"
        + (f"; {left_off:,} outliers far outside the topics' area left off" if left_off else "")
        + "."
    )
    return frame


def save_html(fig, path: Path) -> Path:
    """Write a plotly figure as one HTML file that carries plotly.js itself (opens offline), atomically."""
    from .files import atomic_write

    return atomic_write(Path(path), lambda tmp: fig.write_html(tmp, include_plotlyjs=True, full_html=True))


def save_figure(fig, path: Path, dpi: int = 90) -> Path:
    """Save ``fig`` atomically: plotly as offline HTML, matplotlib as PNG at ``dpi`` (notebooks 04-06)."""
    from .files import atomic_write

    if hasattr(fig, "write_html"):
        return save_html(fig, path)
    return atomic_write(Path(path), lambda tmp: fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png"))


def metric_panels(frame: pd.DataFrame, metrics: list[str], columns: int = 4, titles: Mapping[str, str] = None):
    """A figure of one bar chart per metric: a bar per representation, a color per run, from ``frame``'s
    ``run, representation, metric, value`` rows (``helpers.evaluation.long_table``)."""
    import math

    import matplotlib.pyplot as plt

    runs = list(dict.fromkeys(frame.run))
    metrics = [m for m in metrics if m in set(frame.metric)]
    rows = max(1, math.ceil(len(metrics) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(3.4 * columns, 2.9 * rows), squeeze=False)
    for ax, metric in zip(axes.flat, metrics):
        part = frame[frame.metric == metric]
        order = list(dict.fromkeys(part.representation))
        table = part.pivot_table(index="representation", columns="run", values="value", aggfunc="first", dropna=False)
        table = table.reindex(index=order, columns=runs).astype(float)
        table.plot.bar(ax=ax, legend=False, color=["#4363d8", "#f58231", "#911eb4"][: len(runs)], width=0.75)
        ax.set_title((titles or {}).get(metric, metric), fontsize=10)
        ax.set_xlabel("")
        ax.tick_params(axis="x", labelrotation=35, labelsize=8)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
        ax.axhline(0, color="black", linewidth=0.6)
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis("off")
    if len(runs) > 1:
        handles, names = axes.flat[0].get_legend_handles_labels()
        fig.legend(handles, names, loc="upper center", ncol=len(runs), frameon=False)
        fig.tight_layout(rect=(0, 0, 1, 0.95))
    else:
        fig.tight_layout()
    return fig
