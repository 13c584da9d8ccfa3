"""Local servers for the tests and the benchmarks: ``transformers serve`` on 127.0.0.1 (:class:`LocalServer`) and a
free port to put a server on (:func:`free_port`). The labeler's client for any such server is
:class:`helpers.serving.ChatServer`; no notebook starts a server itself."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Optional


def free_port() -> int:
    """A TCP port nothing listens on at 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalServer:
    """``transformers serve <model>`` on 127.0.0.1 (the tests and ``benchmarks/run.py`` label through it):
    :meth:`start` returns once ``/health`` answers, :meth:`stop` ends it; also a ``with`` block. The same
    port across a stop and a start, so a client keeps its URL. ``dtype`` (e.g. "bfloat16"): the server's
    default, the checkpoint's, when ``None``. Its output goes to ``log`` when given."""

    def __init__(self, model: str, port: Optional[int] = None, log: Optional[Path] = None, dtype: Optional[str] = None):
        self.model, self.port, self.log, self.dtype = model, port or free_port(), log, dtype
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.process: Optional[subprocess.Popen] = None
        self._log_file: Optional[Any] = None  # the handle the server writes its output to, closed by stop()

    def start(self, timeout: float = 240) -> "LocalServer":
        """Start the server and wait until ``/health`` answers. On any failure or interruption (Ctrl-C
        too) the server is stopped and its log closed before the error goes on."""
        command = [str(Path(sys.executable).parent / "transformers"), "serve", self.model, "--host", "127.0.0.1",
                   "--port", str(self.port), "--device", "cpu", *(["--dtype", self.dtype] if self.dtype else [])]
        self._close_log()
        try:
            self._log_file = self.log.open("ab") if self.log else None
            self.process = subprocess.Popen(command, stdout=self._log_file or subprocess.DEVNULL,
                                            stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
            self._wait_until_healthy(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_healthy(self, timeout: float) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"transformers serve stopped (exit {self.process.returncode}): {self._tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as reply:
                    if json.load(reply).get("status") == "ok":
                        return
            except OSError:
                time.sleep(1)
        raise TimeoutError(f"transformers serve did not answer in {timeout} s: {self._tail()}")

    def _tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log and self.log.exists() else "(no log)"

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def stop(self) -> None:
        """End the server (terminate, then kill after 30 s) and close its log."""
        try:
            if self.process and self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        finally:
            self._close_log()

    def __enter__(self) -> "LocalServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
