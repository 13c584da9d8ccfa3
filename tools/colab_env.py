"""Run the Colab editions as Colab runs them: Colab's package versions, a fresh runtime for each edition.

    python tools/colab_env.py build                 # .colab-env/base: Colab's versions of what the series uses
    python tools/colab_env.py run [EDITION ...]     # each edition in a fresh copy of it, an empty folder and cache

``build`` makes a virtual environment with Colab's versions (``tools/colab_runtime/pip-freeze.gpu.txt``)
of every package of ``requirements.txt`` that Colab has, of Colab's kernel (IPython 7.34, ipykernel
6.17.1), and of every package Colab has that the editions' install cells would otherwise add (xarray,
toolz, wrapt, ...: in Colab they are there before the install cells run). Two differences cannot be avoided here: this machine's Python 3.11 (Colab: 3.13) and its CPU
build of torch 2.13.0 (Colab: 2.11.0+cu128). ``run`` gives every edition what opening it from its badge
gives: a copy of that environment (hard links: pip replaces files, it never writes into them), an empty
working folder, an empty home (no cache, no models, no Hugging Face login), and executes it with papermill
on the kernel of that copy, install cells included, exactly as written. It records what the install cells
changed in the environment. ``make colab-test`` runs it through ``tests/test_colab_runtime.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_colab import COLAB_RUNTIME, OUT, REPO, colab_lacks, colab_packages, normalized, requirement_pins  # noqa: E402

ENV_ROOT = REPO / ".colab-env"
BASE = ENV_ROOT / "base"
TORCH = "torch==2.13.0"  # this machine's CPU wheel, in place of Colab's torch 2.11.0+cu128
KERNEL = ("ipykernel", "ipython", "jupyter-client", "jupyter-core", "nbclient", "nbformat", "ipywidgets", "tornado",
          "pyzmq", "traitlets")
NOT_HERE = ("torch", "torchvision", "torchaudio", "torchcodec", "torchao", "triton", "jax", "jaxlib", "tensorflow",
            # torch 2.13 needs setuptools>=77 (Colab's torch 2.11: 75.2); Colab's tifffile needs Python 3.12
            "setuptools", "tifffile")


def constraints(path: Path) -> Path:
    """Colab's versions as a pip constraints file (without torch and its kin, and without ``name @ url`` lines)."""
    lines = [f"{name}=={version}" for name, version in colab_packages().items()
             if version and name not in NOT_HERE and not name.startswith("nvidia-")]
    path.write_text("\n".join(lines) + "\n")
    return path


def base_packages() -> list[str]:
    """What the base environment holds: every package of requirements.txt that Colab has, and Colab's kernel."""
    colab = colab_packages()
    ours = [normalized(pin.split("==")[0]) for pin in requirement_pins(REPO / "requirements.txt")]
    return [name for name in ours if name in colab and name not in NOT_HERE] + list(KERNEL)


def build(base: Path = BASE) -> Path:
    """Create ``base`` (once; delete it to rebuild): torch first, then Colab's versions of the rest."""
    stamp, recipe = base / ".built", "\n".join([COLAB_RUNTIME.read_text(), TORCH, *base_packages(), *colab_lacks()])
    if stamp.exists() and stamp.read_text() == recipe:  # built from this list, these requirements, this torch
        return base
    shutil.rmtree(base, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(base)], check=True)
    subprocess.run([str(base / "bin" / "python"), "-m", "ensurepip", "--upgrade"], check=True, capture_output=True)
    pip = [str(base / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, TORCH], check=True)
    colab_pins = constraints(base / "colab-constraints.txt")
    subprocess.run([*pip, "-c", str(colab_pins), TORCH, *base_packages()], check=True)
    subprocess.run([*pip, "-c", str(colab_pins), TORCH, *colab_dependencies_of_the_installs(pip, base)], check=True)
    stamp.write_text(recipe)
    return base


def colab_dependencies_of_the_installs(pip: list[str], base: Path) -> list[str]:
    """What the editions' install cells would add that Colab's runtime already has (xarray, toolz, wrapt, ...):
    in Colab those are there, at Colab's versions, before the install cells run; so they are here too."""
    report = base / "install-report.json"
    subprocess.run([*pip, "--dry-run", "--report", str(report), *colab_lacks()], check=True)
    colab = colab_packages()
    names = {normalized(item["metadata"]["name"]) for item in json.loads(report.read_text())["install"]}
    return sorted(f"{name}=={colab[name]}" for name in names if colab.get(name) and name not in NOT_HERE)


def installed(python: Path) -> dict[str, str]:
    """Normalized name -> version of every distribution ``python`` sees."""
    code = ("import json, importlib.metadata as m; "
            "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))")
    out = subprocess.run([str(python), "-c", code], check=True, capture_output=True, text=True).stdout
    return {normalized(name): version for name, version in json.loads(out).items()}


def fresh_runtime(root: Path, base: Path = BASE) -> dict[str, Path]:
    """A new runtime under ``root``: a copy of ``base``, an empty working folder and an empty home, and a
    ``python3`` kernel spec (Colab's kernel name) pointing at the copy."""
    shutil.rmtree(root, ignore_errors=True)
    paths = {"env": root / "env", "content": root / "content", "home": root / "home", "jupyter": root / "jupyter"}
    root.mkdir(parents=True)
    if subprocess.run(["cp", "-al", str(base), str(paths["env"])], capture_output=True).returncode:
        shutil.rmtree(paths["env"], ignore_errors=True)  # another filesystem: hard links cannot cross it, copy
        subprocess.run(["cp", "-a", str(base), str(paths["env"])], check=True)
    for key in ("content", "home"):
        paths[key].mkdir(parents=True)
    spec = paths["jupyter"] / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [str(paths["env"] / "bin" / "python"), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Python 3", "language": "python"}))
    return paths


def runtime_environment(paths: dict[str, Path]) -> dict[str, str]:
    """The variables of a fresh runtime: an empty home (so no cache, model or login of ours is found)."""
    keep = ("PATH", "LANG", "LC_ALL", "TMPDIR", "TZ")
    env = {k: v for k, v in os.environ.items() if k in keep}
    return {**env, "HOME": str(paths["home"]), "JUPYTER_PATH": str(paths["jupyter"]),
            "JUPYTER_DATA_DIR": str(paths["jupyter"]), "PIP_CACHE_DIR": os.environ.get(
                "PIP_CACHE_DIR", str(Path("~/.cache/pip").expanduser())),  # downloads only: faster, not different
            "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


def run_edition(edition: Path, root: Path, parameters: dict, base: Path = BASE, timeout: int = 1500,
                secrets: dict[str, str] | None = None) -> dict:
    """Execute the edition ``edition`` (a ``colab/*.ipynb``) in a fresh runtime under ``root``, with ``secrets``
    (e.g. a fake ``HF_TOKEN``) in its environment; what it took and what its install cells changed."""
    paths = fresh_runtime(root, base)
    python = paths["env"] / "bin" / "python"
    before = installed(python)
    command = [sys.executable, "-m", "papermill", str(edition), str(root / "executed.ipynb"),
               "--cwd", str(paths["content"]), "-k", "python3", "--no-progress-bar"]
    for key, value in parameters.items():
        command += ["-p", key, str(value)]
    start = time.perf_counter()
    env = {**runtime_environment(paths), **(secrets or {})}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    after = installed(python)
    return {
        "edition": edition.stem, "returncode": result.returncode, "seconds": round(time.perf_counter() - start, 1),
        "log": (result.stdout + result.stderr)[-4000:], "executed": root / "executed.ipynb", "paths": paths,
        "changed": {n: [v, after.get(n)] for n, v in before.items() if after.get(n) != v},
        "added": {n: v for n, v in after.items() if n not in before},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["build", "run"])
    parser.add_argument("editions", nargs="*", help="edition names (default: all), e.g. 04_visualization")
    parser.add_argument("--root", default=str(ENV_ROOT / "runtimes"), help="where the fresh runtimes go")
    parser.add_argument("--sample-size", type=int, default=300)
    args = parser.parse_args()
    build()
    if args.command == "build":
        print(f"{BASE}: {len(installed(BASE / 'bin' / 'python'))} packages at Colab's versions")
        return 0
    failed = 0
    for name in args.editions or sorted(p.stem for p in OUT.glob("*.ipynb")):
        report = run_edition(OUT / f"{name}.ipynb", Path(args.root) / name, {"sample_size": args.sample_size})
        failed += report["returncode"] != 0
        print(f"{name}: {'ok' if report['returncode'] == 0 else 'FAILED'} in {report['seconds']:.0f} s; "
              f"the install cells changed {report['changed'] or 'nothing Colab had'}")
        if report["returncode"]:
            print(report["log"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
