import numpy as np

from helpers.files import atomic_write
from helpers.plots import map_frame


def test_map_keeps_every_topic_point_and_leaves_off_only_far_outliers():
    frame = map_frame([0, 1, 50, 2, 0.5, 900], [0, 1, 0, 2, 0.5, 900], [-1, 0, 0, 1, -1, -1], ["a", "bb", "c", "dddd", "e", "f"])
    assert sorted(frame.Topic[~frame.outlier]) == [0, 0, 1] and 50.0 in frame.x.tolist()
    assert frame.outlier.sum() == 2 and frame.attrs["left_off"] == 1
    assert frame.Topic.tolist()[:2] == [-1, -1], "outliers first: drawn under the topics"
    assert "1 outliers far outside" in frame.attrs["note"]


def _reference_map(x, y, topics, labels):
    """Notebook 04's taught cell, the post's lines, run on these points and names; returns its globals."""
    import types

    from cells import run_cell
    from matplotlib import pyplot as plt

    from bertopic import BERTopic

    topic_model = types.SimpleNamespace(topics_=[int(t) for t in topics], custom_labels_=[""] * len(set(topics)))
    BERTopic.set_topic_labels(topic_model, labels)  # BERTopic's own order of custom_labels_
    return run_cell("04_visualization.ipynb", "teach:static-map", plt=plt, topic_model=topic_model,
                    reduced_embeddings=np.column_stack([x, y]), abstracts=["doc"] * len(x))


def _static_map(tmp_path, x, y, topics, labels, confidence=None, top_n_labels=50):
    """Notebook 04's static-map cells (the post's, then ours), run on these points; returns the globals (``fig``,
    ``df``, ...)."""
    import pandas as pd
    from cells import run_cell

    documents = pd.DataFrame({"x": x, "y": y, "topic": topics, "abstract": ["doc"] * len(x)})
    table = pd.DataFrame({"topic": list(labels), "label": list(labels.values()),
                          "confidence": [(confidence or {}).get(t, 1.0) for t in labels]})
    return run_cell("04_visualization.ipynb", "ours:static-map", _reference_map(x, y, topics, labels),
                    documents=documents, labels=table, map_frame=map_frame, atomic_write=atomic_write,
                    run_path=tmp_path, figure_size=6, top_n_labels=top_n_labels, weak_label_confidence=0.5)


def _drawn_points(fig):
    """(x, y) of every point drawn on the map, per scatter collection."""
    return [c.get_offsets() for c in fig.axes[0].collections]


def _texts(fig):
    return [t.get_text().replace("\n", " ") for t in fig.axes[0].texts]


def test_static_map_draws_every_clustered_point_and_every_label_far_outside_the_reference_box(tmp_path):
    rng = np.random.default_rng(0)
    centers = [(-40, 30), (25, 60), (80, -15), (400, 380)]  # the last topic far from the rest
    x = np.concatenate([rng.normal(cx, 2, 30) for cx, _ in centers] + [rng.uniform(-50, 90, 20), [5000.0]])
    y = np.concatenate([rng.normal(cy, 2, 30) for _, cy in centers] + [rng.uniform(-20, 70, 20), [5000.0]])
    topics = np.concatenate([np.repeat([0, 1, 2, 3], 30), np.full(21, -1)])
    labels = {-1: "Outliers", 0: "Football results", 1: "Interest rates and the economy", 2: "Mobile phones",
              3: "Film awards"}
    cell = _static_map(tmp_path, x, y, topics, labels)
    fig = cell["fig"]
    points = np.concatenate(_drawn_points(fig))
    clustered = np.column_stack([x, y])[topics != -1]
    assert all((points == p).all(axis=1).any() for p in clustered), "every clustered point is drawn"
    grey, colored = _drawn_points(fig)
    assert len(grey) == 20 and len(colored) == 120, "outliers in their own grey layer, the far one left off"
    assert set(_texts(fig)) == set(labels.values()) - {"Outliers"}
    assert "120 documents in 4 topics drawn" in cell["df"].attrs["note"] and "1 outliers far outside" in cell["df"].attrs["note"]
    assert (tmp_path / "topic_map.png").stat().st_size > 5_000


def test_static_map_labels_each_top_topic_at_its_center_and_marks_weak_labels(tmp_path):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(c, 0.3, 40) for c in (-5, 0, 5)])
    y = np.concatenate([rng.normal(c, 0.3, 40) for c in (0, 5, 0)])
    topics = np.repeat([0, 1, 2], 40)
    labels = {0: "Football results", 1: "Interest rates and the economy", 2: "Mobile phones"}
    cell = _static_map(tmp_path, x, y, topics, labels, confidence={1: 0.2}, top_n_labels=2)
    assert sorted(_texts(cell["fig"])) == ["Football results", "Interest rates and the economy (?)"]
    assert cell["centers"].Topic.tolist() == [0, 1, 2]
    assert np.allclose(cell["centers"][["x", "y"]].to_numpy(), [[-5, 0], [0, 5], [5, 0]], atol=0.2)
    assert cell["scale"] == 8.0, "120 points: the reference's sizes grown 8x"


def test_metric_panels_draw_one_panel_per_metric_and_one_color_per_run():
    import pandas as pd

    from helpers.plots import metric_panels

    rows = [{"run": run, "representation": rep, "metric": metric, "value": value}
            for run, shift in (("a", 0.0), ("b", 0.1)) for rep in ("c-TF-IDF", "LLM label")
            for metric, value in (("npmi", 0.1 + shift), ("diversity", 0.8 - shift))]
    frame = pd.DataFrame(rows)
    fig = metric_panels(frame, ["npmi", "diversity", "not-measured"], columns=2)
    drawn = [ax for ax in fig.axes if ax.axison]
    assert [ax.get_title() for ax in drawn] == ["npmi", "diversity"]
    assert len(drawn[0].patches) == 4  # 2 representations x 2 runs
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["a", "b"]
    heights = sorted(round(p.get_height(), 3) for p in drawn[0].patches)
    assert heights == [0.1, 0.1, 0.2, 0.2]
    single = metric_panels(frame[frame.run == "a"], ["npmi"])
    assert not single.legends and len(single.axes[0].patches) == 2


def test_html_saved_by_save_html_renders_in_a_browser_without_network(tmp_path):
    import plotly.graph_objects as go
    from browser import colors_shown, render, svg_texts

    from helpers.plots import save_html

    fig = go.Figure([go.Scattergl(x=[1, 2, 3], y=[3, 1, 2], mode="markers", name=name, marker=dict(size=30, color=color))
                     for name, color in (("Football results", "red"), ("Mobile phones", "blue"))])
    save_html(fig, tmp_path / "offline.html")
    dom, image = render(tmp_path / "offline.html", tmp_path)
    assert svg_texts(dom, "legendtext") == ["Football results", "Mobile phones"]
    assert 'class="gl-canvas' in dom and colors_shown(image) >= 2

    fig.write_html(tmp_path / "cdn.html", include_plotlyjs="cdn")  # what 04 wrote before: blank without network
    dom, image = render(tmp_path / "cdn.html", tmp_path)
    assert svg_texts(dom, "legendtext") == [] and colors_shown(image) == 0


def test_the_posts_map_names_each_topic_after_the_one_before_and_drops_what_is_outside_its_box(tmp_path):
    """What 04's markdown says of the post's lines: ``custom_labels_[int(topic)]`` counts from topic -1, and a box
    of +-10 leaves off a topic lying outside it; ours (the next cell) names and draws every topic."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(c, 0.3, 30) for c in (-5, 0, 5, 40, 0)])
    y = np.concatenate([rng.normal(c, 0.3, 30) for c in (0, 5, 0, 40, -5)])
    topics = np.repeat([0, 1, 2, 3, -1], 30)
    labels = {-1: "Outliers", 0: "Football results", 1: "Interest rates", 2: "Mobile phones", 3: "Film awards"}
    post = _reference_map(x, y, topics, labels)
    assert sorted(_texts(post["fig"])) == ["Football results", "Interest rates", "Outliers"], "one topic off"
    assert len(post["df"]) == 90, "topic 3 lies outside the box"
    assert sorted(_texts(_static_map(tmp_path, x, y, topics, labels)["fig"])) == sorted(set(labels.values()) - {"Outliers"})
