"""The static topic map (the reference's seaborn scatter, one color per topic, labels at
the topics' centers moved apart with adjustText), the interactive HTML files, and the
small bar charts of notebook 05's metrics.

Where we differ from the reference's map, and why: the reference keeps only points
inside a fixed box of ±10, tuned to its ArXiv coordinates (on BBC News that box hides
56% of the documents). :func:`map_frame` draws every document that belongs to a topic,
whatever its coordinates, and the outliers (topic -1) in light grey under the topics,
as BERTopic's own maps do; only outliers far outside the topics' area are left off,
and counted.
"""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path
from typing import Mapping, Optional

import numpy as np
import pandas as pd

# The reference's color cycle (a 22-color "distinct colors" palette) without its white
# and cream (#ffffff, #fffac8): a topic in those is invisible on the white map.
COLORS = [
    "#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6",
    "#bcf60c", "#fabebe", "#008080", "#e6beff", "#9a6324", "#800000", "#aaffc3",
    "#808000", "#ffd8b1", "#000075", "#808080", "#000000",
]
OUTLIER_COLOR = "#cfcfcf"  # BERTopic's maps draw topic -1 in light grey


def map_frame(x, y, topics, docs, margin: float = 0.05) -> pd.DataFrame:
    """The points to draw, and a note on what was left off (``frame.attrs["note"]``).

    Every document of a topic is kept, wherever it lies. The frame of the map is the
    topics' own extent, padded by ``margin`` of its size on each side; outliers
    (topic -1) inside it are kept (``outlier`` column True), those outside are left
    off and counted in ``frame.attrs["left_off"]``. Outliers come first so they are
    drawn under the topics.
    """
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


def label_positions(frame: pd.DataFrame) -> pd.DataFrame:
    """Where each topic's label goes: the median x/y of its points (not the outliers), by topic number.

    The median (the reference takes the mean) stays on the topic's own points when a
    few of them lie far away.
    """
    points = frame.loc[frame.Topic != -1]
    return points.groupby("Topic")[["x", "y"]].median().reset_index().sort_values("Topic").reset_index(drop=True)


def point_sizes(n_points: int, reference=(0.4, 10.0), reference_points: int = 100_000) -> tuple[float, float]:
    """Marker size range: the reference's for ~100k points, up to 8x larger for small corpora."""
    factor = min(8.0, max(1.0, (reference_points / max(n_points, 1)) ** 0.5))
    return (reference[0] * factor, reference[1] * factor)


def topic_map(
    x, y, topics, docs, labels: Mapping[int, str], top_n: int = 50, wrap: int = 20, figsize=(20, 20),
    weak: Optional[set] = None,
):
    """Draw the static map and return the matplotlib figure (``fig.map_note`` says what was drawn).

    Outliers in light grey first, then one color per topic (the reference's palette),
    point size by document length (within :func:`point_sizes`); each of the ``top_n``
    lowest-numbered (most frequent) topics gets its label, wrapped at ``wrap``
    characters, at :func:`label_positions`, moved apart with adjustText. Topics in
    ``weak`` (labels of low confidence) get a "?" after their label.
    """
    import matplotlib.patheffects as pe
    import seaborn as sns
    from adjustText import adjust_text
    from matplotlib import pyplot as plt

    frame = map_frame(x, y, topics, docs)
    colors = itertools.cycle(COLORS)
    color_key = {t: next(colors) for t in sorted(frame.Topic.unique()) if t != -1}
    sizes = point_sizes(len(frame))
    fig = plt.figure(figsize=figsize)
    ax = fig.gca()
    outliers, clustered = frame.loc[frame.outlier], frame.loc[~frame.outlier]
    if len(outliers):
        ax.scatter(outliers.x, outliers.y, s=sizes[0] * 2, color=OUTLIER_COLOR, alpha=0.5, linewidths=0, zorder=1)
    if len(clustered):
        sns.scatterplot(
            data=clustered, x="x", y="y", hue="Topic", palette=color_key, alpha=0.4, sizes=sizes,
            size="Length", legend=False, ax=ax, zorder=2,
        )
    texts = []
    for row in label_positions(frame).itertuples():
        if row.Topic < top_n:
            name = labels.get(row.Topic, str(row.Topic)) + (" (?)" if weak and row.Topic in weak else "")
            texts.append(
                ax.text(row.x, row.y, textwrap.fill(name, wrap), size=10, ha="center", color=color_key[row.Topic],
                        path_effects=[pe.withStroke(linewidth=0.5, foreground="black")], zorder=3)
            )
    if texts:
        adjust_text(texts, ax=ax, time_lim=1, force_text=(0.01, 0.02), force_static=(0.01, 0.02),
                    force_pull=(0.5, 0.5))
    ax.legend("", frameon=False)
    ax.axis("off")
    fig.map_note = frame.attrs["note"]
    return fig


def save_html(fig, path: Path) -> Path:
    """Write a plotly figure as one HTML file that carries plotly.js itself (opens offline), atomically."""
    from .files import atomic_write

    return atomic_write(Path(path), lambda tmp: fig.write_html(tmp, include_plotlyjs=True, full_html=True))


def metric_panels(frame: pd.DataFrame, metrics: list[str], columns: int = 4, titles: Mapping[str, str] = None):
    """One small bar chart per metric and return the figure.

    ``frame`` has ``run, representation, metric, value`` rows (``helpers.evaluation.long_table``);
    each panel shows one bar per representation, one color per run, so two runs read side by side.
    """
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
        table.plot.bar(ax=ax, legend=False, color=COLORS[3:3 + len(runs)] if len(runs) > 1 else COLORS[3], width=0.75)
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
