"""Labels from a server: any OpenAI-compatible chat-completions endpoint (vLLM, TGI, Ollama...) as the labeler's LLM,
with ``llm_backend = "openai"`` in notebooks 03 and 06. The API key is read from the variable ``llm_api_key_env`` and
never leaves the client."""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, Iterator, Mapping, Optional

from .credentials import redact_url
from .prompts import parse_chat


class OpenAIServer:
    """An ``openai`` client for an OpenAI-compatible server, shared by :class:`ChatServer` and ``EmbeddingServer``;
    each failure becomes one sentence naming the URL (credentials redacted) and the setting to change. Subclasses set
    ``what``, ``setting`` (knob prefix, e.g. "llm"), ``route`` and ``start_hint``; the key never leaves the client."""

    what = setting = route = start_hint = ""

    def __init__(self, base_url: str, model: str, api_key_env: str, retries: int, timeout: float):
        from openai import OpenAI

        self.base_url, self.model, self.api_key_env = base_url, model, api_key_env
        self.shown_url = redact_url(base_url)  # no user name or password
        # a local server needs no key, but the client wants a non-empty one
        self.client = OpenAI(base_url=base_url, api_key=os.environ.get(api_key_env) or "no-key",
                             max_retries=retries, timeout=timeout)

    def __repr__(self) -> str:  # no key in it
        return f"{type(self).__name__}({self.shown_url!r}, {self.model!r})"

    def explain(self, error: Exception) -> Exception:
        """One sentence for a failed request: unreachable, wrong key, unknown model, or what the server said."""
        import openai

        where, knob = f"The {self.what} server at {self.shown_url}", self.setting
        if isinstance(error, openai.APIConnectionError):  # includes timeouts
            return ConnectionError(f"{where} does not answer ({type(error).__name__}): {self.start_hint}.")
        if isinstance(error, (openai.AuthenticationError, openai.PermissionDeniedError)):
            return PermissionError(f"{where} refused the API key (HTTP {error.status_code}): put the key in the "
                                   f"environment variable {self.api_key_env} (never in a parameter).")
        if isinstance(error, openai.NotFoundError):
            return LookupError(f"{where} does not serve {self.route} for the model {self.model!r} (HTTP 404): set "
                               f"{knob}_model to one of those it lists at {self.shown_url.rstrip('/')}/models, "
                               f"and check that {knob}_base_url ends in /v1.")
        if isinstance(error, openai.APIStatusError):
            return RuntimeError(f"{where} refused the {self.route} request for {self.model!r} (HTTP "
                                f"{error.status_code}: {str(error.message)[:200]}); check {knob}_model and the "
                                f"server's log.")
        return error

    def ask_served(self) -> None:
        """Raise the explained error if the server does not answer, ``LookupError`` if it does not serve ``model``."""
        import openai

        try:
            served = [m.id for m in self.client.models.list()]
        except openai.OpenAIError as error:
            raise self.explain(error) from None
        if served and self.model not in served:
            raise LookupError(f"The {self.what} server at {self.shown_url} does not serve the model {self.model!r}; "
                              f"it serves {', '.join(served)}: set {self.setting}_model to one of them.")


class ChatServer(OpenAIServer):
    """An OpenAI-compatible server as the generator of :class:`helpers.labeler.BatchedTextGeneration`: ``concurrency``
    requests at a time, each retried ``retries`` times; the first answer is greedy, further candidates sampled."""

    tokenizer = None  # the server holds it
    what, setting, route = "LLM", "llm", "chat completions"
    start_hint = "start one (e.g. `transformers serve <model folder> --port 8000`, docs/servers-and-scale.md) or fix llm_base_url"

    def __init__(self, base_url: str, model: str, api_key_env: str = "OPENAI_API_KEY", concurrency: int = 4,
                 retries: int = 4, timeout: float = 120.0, seed: int = 42):
        if concurrency < 1:
            raise ValueError(f"llm_concurrency must be at least 1, got {concurrency}.")
        super().__init__(base_url, model, api_key_env, retries, timeout)
        self.concurrency, self.seed = concurrency, seed

    def identity(self) -> dict[str, Any]:
        """The answer cache's key: backend, model, how answers are cut and seed; never the URL or the key."""
        return {"backend": "openai", "model": self.model, "answers": "first line, line end kept", "seed": self.seed}

    def check(self) -> str:
        """Check the server serves ``model`` (:meth:`ask_served`); returns a sentence saying it answers."""
        self.ask_served()
        return f"LLM server {self.shown_url} answers, serving {self.model}; {self.concurrency} requests at a time"

    def ask(self, prompt: str, max_new_tokens: int, temperature: float = 0.0, seed: int | None = None) -> str:
        """One answer to ``prompt`` (sent as its chat turns), up to the first line end (:func:`line_answer`)."""
        import openai

        try:  # no stop=["\n"]: a server would stop at a leading newline
            reply = self.client.chat.completions.create(
                model=self.model, messages=parse_chat(prompt), max_tokens=max_new_tokens, temperature=temperature,
                seed=self.seed if seed is None else seed,
            )
        except openai.OpenAIError as error:
            raise self.explain(error) from None
        return line_answer(reply.choices[0].message.content or "", reply.choices[0].finish_reason)

    @staticmethod
    def budget_was_hit(answer: str, max_new_tokens: int) -> bool:
        """True when the token budget cut ``answer``: the only answers :func:`line_answer` leaves without a line end."""
        return bool(answer.strip()) and "\n" not in answer.lstrip()

    def candidates(self, prompt: str, max_new_tokens: int, n: int = 1) -> list[str]:
        """``n`` answers: the greedy one first, then ``n - 1`` sampled ones."""
        return [self.ask(prompt, max_new_tokens)] + [
            self.ask(prompt, max_new_tokens, temperature=0.7, seed=self.seed + k) for k in range(1, n)]

    def stream_answers(self, prompts: Mapping[int, str], max_new_tokens: int, n: int = 1) -> Iterator[tuple[int, list[str]]]:
        """``(key, answers)`` for each prompt as it completes. On the first failure: yields the answers finished by
        then, cancels the rest and raises the explained error without waiting for running requests."""
        pool = ThreadPoolExecutor(max_workers=self.concurrency)
        futures = {pool.submit(self.candidates, prompt, max_new_tokens, n): key for key, prompt in prompts.items()}
        given = set()
        try:
            for future in as_completed(futures):
                error = future.exception()
                if error is not None:
                    finished = [f for f in futures if f not in given and f.done() and not f.cancelled()
                                and f.exception() is None]
                    for other in finished:
                        yield futures[other], other.result()
                    raise error
                given.add(future)
                yield futures[future], future.result()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)


def line_answer(text: str, finish_reason: Optional[str]) -> str:
    """``text`` up to the end of its first non-blank line, line end kept (as the local path stops); only an answer the
    token budget cut (``finish_reason`` "length") is left without one."""
    line = re.match(r"\s*\S[^\n]*\n", text)
    if line:
        return line.group(0)
    return text if finish_reason == "length" or not text.strip() else text + "\n"
