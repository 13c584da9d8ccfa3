import numpy as np

from helpers.plots import label_positions, map_frame, topic_map


def test_map_keeps_every_topic_point_and_leaves_off_only_far_outliers():
    frame = map_frame([0, 1, 50, 2, 0.5, 900], [0, 1, 0, 2, 0.5, 900], [-1, 0, 0, 1, -1, -1], ["a", "bb", "c", "dddd", "e", "f"])
    assert sorted(frame.Topic[~frame.outlier]) == [0, 0, 1] and 50.0 in frame.x.tolist()
    assert frame.outlier.sum() == 2 and frame.attrs["left_off"] == 1
    assert frame.Topic.tolist()[:2] == [-1, -1], "outliers first: drawn under the topics"
    assert "1 outliers far outside" in frame.attrs["note"]


def _drawn_points(fig):
    """(x, y) of every point drawn on the map, per scatter collection."""
    return [c.get_offsets() for c in fig.axes[0].collections]


def test_static_map_draws_every_clustered_point_and_every_label_far_outside_the_reference_box():
    rng = np.random.default_rng(0)
    centers = [(-40, 30), (25, 60), (80, -15), (400, 380)]  # the last topic far from the rest
    x = np.concatenate([rng.normal(cx, 2, 30) for cx, _ in centers] + [rng.uniform(-50, 90, 20), [5000.0]])
    y = np.concatenate([rng.normal(cy, 2, 30) for _, cy in centers] + [rng.uniform(-20, 70, 20), [5000.0]])
    topics = np.concatenate([np.repeat([0, 1, 2, 3], 30), np.full(21, -1)])
    labels = {0: "Football results", 1: "Interest rates and the economy", 2: "Mobile phones", 3: "Film awards"}
    fig = topic_map(x, y, topics, ["doc"] * len(x), labels, figsize=(6, 6))
    points = np.concatenate(_drawn_points(fig))
    clustered = np.column_stack([x, y])[topics != -1]
    assert all((points == p).all(axis=1).any() for p in clustered), "every clustered point is drawn"
    grey, colored = _drawn_points(fig)
    assert len(grey) == 20 and len(colored) == 120, "outliers in their own grey layer, the far one left off"
    texts = {t.get_text().replace("\n", " ") for t in fig.axes[0].texts}
    assert texts == set(labels.values())
    assert "120 documents in 4 topics drawn" in fig.map_note and "1 outliers far outside" in fig.map_note


def test_static_map_labels_each_top_topic_at_its_center():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(c, 0.3, 40) for c in (-5, 0, 5)])
    y = np.concatenate([rng.normal(c, 0.3, 40) for c in (0, 5, 0)])
    topics = np.repeat([0, 1, 2], 40)
    labels = {0: "Football results", 1: "Interest rates and the economy", 2: "Mobile phones"}
    fig = topic_map(x, y, topics, ["doc"] * 120, labels, top_n=2, figsize=(6, 6), weak={1})
    texts = [t.get_text().replace("\n", " ") for t in fig.axes[0].texts]
    assert sorted(texts) == ["Football results", "Interest rates and the economy (?)"]
    positions = label_positions(map_frame(x, y, topics, ["d"] * 120))
    assert positions.Topic.tolist() == [0, 1, 2]
    assert np.allclose(positions[["x", "y"]].to_numpy(), [[-5, 0], [0, 5], [5, 0]], atol=0.2)


def test_points_grow_for_small_corpora_and_keep_the_reference_size_for_large_ones():
    from helpers.plots import point_sizes

    assert point_sizes(117_000) == (0.4, 10.0)
    small = point_sizes(300)
    assert small[0] > 1 and small[1] <= 80


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
