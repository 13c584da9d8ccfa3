"""The reference's static topic map: seaborn scatter of the 2-D embeddings, one color per
topic, labels at the topic centroids, moved apart with adjustText."""

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
