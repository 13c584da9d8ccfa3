import numpy as np

from helpers.plots import centroids, map_frame, topic_map


def test_map_drops_outliers_and_far_points():
    frame = map_frame([0, 1, 50, 2], [0, 1, 0, 2], [-1, 0, 0, 1], ["a", "bb", "c", "dddd"])
    assert frame.Topic.tolist() == ["0", "1"] and frame.Length.tolist() == [2, 4]


def test_static_map_labels_each_top_topic_at_its_centroid():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(c, 0.3, 40) for c in (-5, 0, 5)])
    y = np.concatenate([rng.normal(c, 0.3, 40) for c in (0, 5, 0)])
    topics = np.repeat([0, 1, 2], 40)
    labels = {0: "Football results", 1: "Interest rates and the economy", 2: "Mobile phones"}
    fig = topic_map(x, y, topics, ["doc"] * 120, labels, top_n=2, figsize=(6, 6))
    texts = [t.get_text().replace("\n", " ") for t in fig.axes[0].texts]
    assert sorted(texts) == ["Football results", "Interest rates and the economy"]
    assert len(centroids(map_frame(x, y, topics, ["d"] * 120))) == 3


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
