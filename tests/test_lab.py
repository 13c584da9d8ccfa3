"""`make lab` starts JupyterLab on the notebooks with the project's own Python as the kernel."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
import pytest

pytestmark = pytest.mark.same_on_any_cpu  # make lab's server: no precision changes it

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str):
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read()


def _kernels(runtime_dir: Path, wait: float = 30) -> dict:
    """``{pid: interpreter}`` of the ipykernel processes whose connection file is in ``runtime_dir`` (Linux /proc)."""
    deadline = time.time() + wait
    while time.time() < deadline:
        found = {}
        for proc in Path("/proc").iterdir():
            try:
                cmdline = (proc / "cmdline").read_bytes() if proc.name.isdigit() else b""
                if b"ipykernel_launcher" in cmdline and str(runtime_dir).encode() in cmdline:
                    found[int(proc.name)] = Path(os.readlink(proc / "exe")).resolve()
            except OSError:
                continue
        if found:
            return found
        time.sleep(0.5)
    return {}


def test_make_lab_serves_the_notebooks_with_the_project_kernel(tmp_path):
    port = _free_port()
    args = f"--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token= --ServerApp.disable_check_xsrf=True --allow-root"
    runtime, kernels = tmp_path / "runtime", {}
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime), "JUPYTER_CONFIG_DIR": str(tmp_path / "config")}
    process = subprocess.Popen(["make", "-s", "lab", f"LAB_ARGS={args}", f"VENV={Path(sys.prefix)}"], cwd=REPO, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline, status = time.time() + 120, None
        while time.time() < deadline and process.poll() is None:
            try:
                status, body = _get(f"http://127.0.0.1:{port}/lab")
                break
            except OSError:
                time.sleep(0.5)
        assert status == 200, process.stdout.read().decode() if process.poll() is not None else "no answer"
        assert b"JupyterLab" in body
        _, contents = _get(f"http://127.0.0.1:{port}/api/contents")
        names = {item["name"] for item in json.loads(contents)["content"]}
        assert {"00_setup_and_login.ipynb", "03_topic_modeling.ipynb"} <= names
        _, specs = _get(f"http://127.0.0.1:{port}/api/kernelspecs")
        assert json.loads(specs)["default"] == "python3"
        # start a kernel the way opening a notebook does, and see which Python runs it
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/kernels", data=b'{"name": "python3"}',
                                         method="POST", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 201
        kernels.update(_kernels(runtime))
        assert set(kernels.values()) == {Path(sys.executable).resolve()}
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        for pid in kernels:  # kernels run in their own session
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
