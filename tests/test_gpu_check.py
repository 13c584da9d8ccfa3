"""The prepared GPU check (benchmarks/gpu_check.py) runs and records every stage: here in its CPU dry run."""

import json
import subprocess
import sys

from tools.run import REPO
import pytest

pytestmark = pytest.mark.same_on_any_cpu  # the GPU check's stages: no precision changes it


def test_the_gpu_check_runs_every_stage_in_its_dry_run_and_records_them(tmp_path):
    out = tmp_path / "gpu-check.json"
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "--dry-run", "--documents", "50",
                             "--prompts", "2", "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    record = json.loads(out.read_text())
    stages = [row["stage"] for row in record["stages"]]
    assert stages == ["load the embedding model", "embed 50 documents (fp32)", "load the chat model (none)",
                      "label 2 topics in one batch"]
    assert all(row["seconds"] > 0 for row in record["stages"]) and record["dry_run"] is True
    assert len(record["answers"]) == 2 and all(isinstance(a, str) for a in record["answers"])
    assert record["preflight"].startswith("packaged:SmolLM2-135M-Instruct (none, 0.13B parameters) needs about")
