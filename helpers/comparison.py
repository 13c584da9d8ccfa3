"""Evaluations as tables: per representation, per topic, and two runs side by side (notebooks 05 and 06)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .evaluation import DIRECTIONS, KEYWORD_REPRESENTATIONS, LABEL_REPRESENTATIONS


# ---- tables and comparison
KEYWORD_ROWS = tuple(KEYWORD_REPRESENTATIONS)  # 10 or 25 words per topic
LABEL_ROWS = tuple(LABEL_REPRESENTATIONS)  # a handful of words per topic
NOT_SCORES = ("faithfulness_shuffled", "fallback_share", "words_per_topic", "npmi_scored_topics", "scored_topics",
              "rubric_pass")
# the measures the label choice never used: shown first
INDEPENDENT = ("confidence_lexical", "category_match_lexical")
# what our labeler enforces (filters, not scores): shown last
FILTERS = ("duplicate_rate", "rubric_pass")


def styled_representations(table: pd.DataFrame):
    """The per-representation table, each score's best in bold within its kind (keyword lists, labels)."""
    scores = [c for c in table.columns if c not in NOT_SCORES]

    def bold(column: pd.Series) -> list[str]:
        out = []
        for name, value in column.items():
            group = [n for n in (KEYWORD_ROWS if name in KEYWORD_ROWS else LABEL_ROWS) if n in column.index]
            best = column[group].min() if DIRECTIONS.get(column.name, 1) < 0 else column[group].max()
            out.append("font-weight: bold" if pd.notna(value) and value == best else "")
        return out

    return table.style.format(precision=3, na_rep="–").apply(bold, subset=scores)


def representation_table(evaluation: dict[str, Any]) -> pd.DataFrame:
    """One row per representation, a column per metric, :data:`INDEPENDENT` first and :data:`FILTERS` last."""
    table = pd.DataFrame(evaluation["representations"]).T.rename_axis("representation")
    first = [c for c in INDEPENDENT if c in table.columns]
    last = [c for c in FILTERS if c in table.columns]
    return table[first + [c for c in table.columns if c not in first and c not in last] + last]


def long_table(evaluation: dict[str, Any], run: str) -> pd.DataFrame:
    """Every metric as ``run, representation, metric, value`` rows (run-level ones under ``"run"``)."""
    rows = [{"run": run, "representation": name, "metric": metric, "value": value}
            for name, metrics in evaluation["representations"].items() for metric, value in metrics.items()]
    rows += [{"run": run, "representation": "run", "metric": metric, "value": value}
             for metric, value in evaluation["run"].items()]
    frame = pd.DataFrame(rows)
    return frame[frame.metric.isin(DIRECTIONS)].reset_index(drop=True)


def compare_evaluations(
    a: dict[str, Any], b: dict[str, Any], names: tuple[str, str] = ("this run", "other run")
) -> pd.DataFrame:
    """Two evaluations side by side: ``representation, metric, <a>, <b>, difference`` (a - b), ``better`` (by the
    metric's direction; ``"="`` or empty)."""
    left, right = (long_table(e, n).drop(columns="run").rename(columns={"value": n}) for e, n in zip((a, b), names))
    keys = pd.concat([left, right])[["representation", "metric"]].drop_duplicates()  # the evaluations' own order
    frame = keys.merge(left, how="left").merge(right, how="left").reset_index(drop=True)
    va = pd.to_numeric(frame[names[0]], errors="coerce")
    vb = pd.to_numeric(frame[names[1]], errors="coerce")
    frame["difference"] = va - vb
    direction = frame.metric.map(DIRECTIONS).fillna(0)
    signed = frame["difference"] * direction

    def better(i: int) -> str:
        if direction[i] == 0 or not np.isfinite(signed[i]):
            return ""
        if abs(signed[i]) < 1e-9:
            return "="
        return names[0] if signed[i] > 0 else names[1]

    frame["better"] = [better(i) for i in range(len(frame))]
    return frame


def _flat(settings: dict[str, Any]) -> dict[str, Any]:
    """Nested mappings flattened to dotted keys."""
    flat = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{k}": v for k, v in _flat(value).items()})
        else:
            flat[key] = value
    return flat


def settings_differences(a: dict[str, Any], b: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``{name: (a's value, b's value)}`` for the settings two runs do not share, nested ones dotted
    (``versions.torch``)."""
    a, b = _flat(a), _flat(b)
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b))
            if a.get(k) != b.get(k) and k != "saved_together"}  # the save's own hash: no setting


def comparability_notes(a: dict[str, Any], b: dict[str, Any], settings_a: dict, settings_b: dict) -> list[str]:
    """Reasons a side-by-side reading can mislead: other corpus, embedding model or scoring."""
    notes = []
    if a["run"]["documents"] != b["run"]["documents"] or settings_a.get("dataset") != settings_b.get("dataset"):
        notes.append("The runs use different corpora: NPMI and NMI/ARI are computed on each run's own documents.")
    if settings_a.get("embedding_model") != settings_b.get("embedding_model"):
        notes.append("The runs use different embedding models: faithfulness scores are not on the same scale.")
    if a["method"] != b["method"]:
        notes.append("The evaluations were computed with different settings (see `method`).")
    precisions = settings_a.get("precision_resolved"), settings_b.get("precision_resolved")
    if precisions[0] != precisions[1]:
        shown = " and ".join(p or "not recorded" for p in precisions)
        notes.append(f"The runs computed in different precisions ({shown}): the topics move with precision as much "
                     f"as with another seed (BENCHMARKS.md).")
    versions = [k for k in settings_differences(settings_a, settings_b) if k.startswith("versions.")]
    if versions:
        notes.append(f"The runs used other versions of {', '.join(v.split('.', 1)[1] for v in versions)}.")
    return notes


def topic_table(evaluation: dict[str, Any], representation: str = "LLM label") -> pd.DataFrame:
    """One row per topic: size, dominant category and purity, the label, its faithfulness and nearest category."""
    rows = []
    for topic in evaluation["topics"]:
        shown = topic["representations"].get(representation, {})
        rows.append({
            "topic": topic["topic"], "size": topic["size"],
            "dominant_category": topic.get("dominant_category"), "purity": topic.get("purity"),
            representation: shown.get("text"), "confidence": shown.get("confidence"),
            "confidence_lexical": shown.get("confidence_lexical"), "faithfulness": shown.get("faithfulness"),
            "nearest_category": shown.get("nearest_category"),
            "nearest_category_lexical": shown.get("nearest_category_lexical"),
            "keywords_npmi": topic["representations"].get("c-TF-IDF", {}).get("npmi"),
        })
    return pd.DataFrame(rows).set_index("topic")


def styled_comparison(frame: pd.DataFrame, names: tuple[str, str]):
    """The comparison table, each row's better value in green, the worse in red."""
    good, bad = "background-color: #d4edda", "background-color: #f8d7da"

    def colors(row):
        out = {column: "" for column in row.index}
        if row["better"] in names:
            other = names[1] if row["better"] == names[0] else names[0]
            out[row["better"]], out[other] = good, bad
        return pd.Series(out)

    return frame.style.apply(colors, axis=1).format(precision=3, na_rep="–", subset=[*names, "difference"])


# ---- what notebooks 05 and 06 show
# notebook 05's first table, the measures the label choice never used first
LEAD_MEASURES = ("confidence_lexical", "category_match_lexical", "npmi", "diversity_top10", "faithfulness_gap",
                 "duplicate_rate")


def measures_table(evaluation: dict[str, Any]):
    """Notebook 05's first table: :data:`LEAD_MEASURES` per representation, the best in bold within its kind."""
    table = representation_table(evaluation)
    return styled_representations(table[[m for m in LEAD_MEASURES if m in table.columns]].astype(float))


def evaluation_figure(evaluations: dict[str, dict[str, Any]]):
    """A bar chart per lead measure, a bar per representation, a color per run (``{name: evaluation}``)."""
    from .plots import metric_panels

    frame = pd.concat([long_table(e, name) for name, e in evaluations.items()], ignore_index=True)
    return metric_panels(frame, list(LEAD_MEASURES), columns=3)


def compare_runs(run_dir, other_dir, settings, options: dict[str, Any], evaluation: dict[str, Any] = None
                 ) -> dict[str, Any]:
    """Two run folders side by side (notebooks 05 and 06), evaluated unless saved or given (``evaluation``:
    ``run_dir``'s); writes ``evaluation.json`` (when computed), ``comparison.json`` and ``comparison.png`` into
    ``run_dir``, nothing into ``other_dir``; returns ``notes``, ``differences``, ``table``."""
    from pathlib import Path

    from .evaluation import evaluate_folder, saved_evaluation, save_evaluation, write_json
    from .plots import save_figure
    from .credentials import redact_url
    from .runs import SESSION_ONLY, read_run_settings

    run_dir, other_dir = Path(run_dir), Path(other_dir)
    if evaluation is None:
        evaluation = saved_evaluation(run_dir, options) or save_evaluation(
            run_dir, evaluate_folder(run_dir, settings.cache_dir, settings, **options)[0])
    other = saved_evaluation(other_dir, options) or evaluate_folder(other_dir, settings.cache_dir, settings, **options)[0]
    names = (run_dir.name, other_dir.name) if run_dir.name != other_dir.name else ("this run", "other run")
    mine, theirs = read_run_settings(run_dir), read_run_settings(other_dir)
    differences = settings_differences(mine, theirs)  # the runs' settings, not session-only ones (servers, keys)
    differences = {k: tuple(redact_url(v) if isinstance(v, str) else v for v in pair)
                   for k, pair in differences.items() if k.split(".")[0] not in SESSION_ONLY}
    notes = comparability_notes(evaluation, other, mine, theirs)
    comparison = compare_evaluations(evaluation, other, names)
    write_json(run_dir / "comparison.json", {
        "runs": {names[0]: str(run_dir.resolve()), names[1]: str(other_dir.resolve())},
        "settings_differences": differences, "notes": notes, "rows": comparison.to_dict("records"),
    })
    save_figure(evaluation_figure(dict(zip(names, (evaluation, other)))), run_dir / "comparison.png")
    return {"notes": notes, "differences": pd.DataFrame(differences, index=list(names)).T.rename_axis("setting"),
            "table": styled_comparison(comparison, names)}
