"""The reference's static topic map: seaborn scatter of the 2-D embeddings, one color per
topic, labels at the topic centroids, moved apart with adjustText; and the small bar charts
of notebook 05's metrics."""

from __future__ import annotations

import itertools
import textwrap
from typing import Mapping

import pandas as pd

# The reference's color cycle (a 22-color "distinct colors" palette).
COLORS = [
    "#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6",
    "#bcf60c", "#fabebe", "#008080", "#e6beff", "#9a6324", "#fffac8", "#800000", "#aaffc3",
    "#808000", "#ffd8b1", "#000075", "#808080", "#ffffff", "#000000",
]


def map_frame(x, y, topics, docs, limit: float = 10.0) -> pd.DataFrame:
    """Points to plot: outliers (topic -1) and points beyond ``±limit`` dropped, as in the reference."""
    frame = pd.DataFrame({"x": x, "y": y, "Topic": [str(t) for t in topics], "Length": [len(d) for d in docs]})
    frame = frame.loc[frame.Topic != "-1"]
    frame = frame.loc[(frame.y > -limit) & (frame.y < limit) & (frame.x < limit) & (frame.x > -limit)]
    return frame.reset_index(drop=True)


def centroids(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean x/y per topic, sorted by topic number."""
    mean = frame.groupby("Topic")[["x", "y"]].mean().reset_index()
    mean["Topic"] = mean["Topic"].astype(int)
    return mean.sort_values("Topic").reset_index(drop=True)


def point_sizes(n_points: int, reference=(0.4, 10.0), reference_points: int = 100_000) -> tuple[float, float]:
    """Marker size range: the reference's for ~100k points, up to 8x larger for small corpora."""
    factor = min(8.0, max(1.0, (reference_points / max(n_points, 1)) ** 0.5))
    return (reference[0] * factor, reference[1] * factor)


def topic_map(
    x, y, topics, docs, labels: Mapping[int, str], top_n: int = 50, wrap: int = 20, figsize=(20, 20), limit: float = 10.0
):
    """Draw the static map and return the matplotlib figure.

    Point size follows document length (within :func:`point_sizes`); each of the ``top_n`` lowest-numbered (most
    frequent) topics gets its label, wrapped at ``wrap`` characters, at its centroid.
    """
    import matplotlib.patheffects as pe
    import seaborn as sns
    from adjustText import adjust_text
    from matplotlib import pyplot as plt

    frame = map_frame(x, y, topics, docs, limit)
    colors = itertools.cycle(COLORS)
    color_key = {t: next(colors) for t in sorted(frame.Topic.unique(), key=int)}
    fig = plt.figure(figsize=figsize)
    sns.scatterplot(
        data=frame, x="x", y="y", hue="Topic", palette=color_key, alpha=0.4, sizes=point_sizes(len(frame)),
        size="Length", legend=False,
    )
    texts = []
    for row in centroids(frame).itertuples():
        if row.Topic < top_n:
            name = textwrap.fill(labels.get(row.Topic, str(row.Topic)), wrap)
            texts.append(
                plt.text(row.x, row.y, name, size=10, ha="center", color=color_key[str(row.Topic)],
                         path_effects=[pe.withStroke(linewidth=0.5, foreground="black")])
            )
    if texts:
        adjust_text(texts, time_lim=1, force_text=(0.01, 0.02), force_static=(0.01, 0.02), force_pull=(0.5, 0.5))
    plt.legend("", frameon=False)
    plt.axis("off")
    return fig


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
