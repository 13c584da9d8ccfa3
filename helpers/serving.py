"""Labels from a server: any OpenAI-compatible chat-completions endpoint as the labeler's LLM.

vLLM, TGI, llama.cpp's server, Ollama and ``transformers serve`` all speak this API; with
``llm_backend = "openai"`` notebooks 03 and 06 send their prompts there instead of loading a
model (docs/servers-and-scale.md, "Labels from a server"). The prompts are the same turns (system, one-shot
example, main prompt) that the local path renders with the model's chat template
(:class:`helpers.prompts.ChatMarkup`); the server applies that template itself.

The API key is read from an environment variable (``llm_api_key_env``, default
``OPENAI_API_KEY``) and stays inside the client: it is never a parameter, and it is not
part of any output, settings file or answer-cache key.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, Iterator, Mapping, Optional

from .credentials import redact_url
from .prompts import parse_chat


class OpenAIServer:
    """What :class:`ChatServer` and :class:`helpers.embedding_server.EmbeddingServer` share: an ``openai``
    client for an OpenAI-compatible server, and one sentence for each failure that names the URL and the
    setting to change (:meth:`explain`, :meth:`ask_served`).

    A subclass says how its messages name it: ``what`` ("LLM": "The LLM server at ..."), ``setting`` (the
    prefix of its settings: "llm" for llm_model, llm_base_url), ``route`` (what its requests ask for:
    "chat completions") and ``start_hint`` (how to start one). The key is read from the environment
    variable ``api_key_env`` and stays inside the client: no message, ``repr`` or cache key shows it, and
    messages show the URL without a user name or password.
    """

    what = setting = route = start_hint = ""

    def __init__(self, base_url: str, model: str, api_key_env: str, retries: int, timeout: float):
        from openai import OpenAI

        self.base_url, self.model, self.api_key_env = base_url, model, api_key_env
        self.shown_url = redact_url(base_url)  # what messages show: never a user name or password in the URL
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
        """Ask the server which models it serves: the explained error when it does not answer, a
        ``LookupError`` naming those it serves when ``model`` is not one of them."""
        import openai

        try:
            served = [m.id for m in self.client.models.list()]
        except openai.OpenAIError as error:
            raise self.explain(error) from None
        if served and self.model not in served:
            raise LookupError(f"The {self.what} server at {self.shown_url} does not serve the model {self.model!r}; "
                              f"it serves {', '.join(served)}: set {self.setting}_model to one of them.")


class ChatServer(OpenAIServer):
    """An OpenAI-compatible server as a generator for :class:`helpers.labeler.BatchedTextGeneration`.

    Requests go out ``concurrency`` at a time; the ``openai`` client retries 429, 5xx, timeouts and
    dropped connections ``retries`` times with exponential backoff. An answer is greedy
    (temperature 0); with ``candidates`` above 1 the others are sampled (temperature 0.7, a seed
    each), since the API has no beam search. Every failure ends in one sentence that names the URL
    and what to change (:meth:`explain`).
    """

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
        """Who answers, for the answer cache: the backend and the model, not the URL (labels made on a
        GPU server replay on a laptop) and never the key; ``answers`` names how an answer is cut
        (:func:`line_answer`): answers recorded before, cut by the server at any newline, are not replayed.
        The ``seed`` too: every request sends it, and the candidates after the first are sampled with
        ``seed + k``, so answers recorded with another seed are another run's."""
        return {"backend": "openai", "model": self.model, "answers": "first line, line end kept", "seed": self.seed}

    def check(self) -> str:
        """Ask the server which models it serves (:meth:`ask_served`); a sentence saying it answers."""
        self.ask_served()
        return f"LLM server {self.shown_url} answers, serving {self.model}; {self.concurrency} requests at a time"

    def ask(self, prompt: str, max_new_tokens: int, temperature: float = 0.0, seed: int | None = None) -> str:
        """One answer to one prompt, up to the first line end. The server is sent the prompt's own chat turns
        (:func:`helpers.prompts.parse_chat`: a :class:`helpers.prompts.ChatPrompt` carries them), never turns
        read back from text a document could have changed."""
        import openai

        try:  # no stop=["\n"]: a server stops at a leading newline, with an empty answer (the local path does not)
            reply = self.client.chat.completions.create(
                model=self.model, messages=parse_chat(prompt), max_tokens=max_new_tokens, temperature=temperature,
                seed=self.seed if seed is None else seed,
            )
        except openai.OpenAIError as error:
            raise self.explain(error) from None
        return line_answer(reply.choices[0].message.content or "", reply.choices[0].finish_reason)

    @staticmethod
    def budget_was_hit(answer: str, max_new_tokens: int) -> bool:
        """True when the token budget ended ``answer`` (the labeler's budget rule; the server holds the
        tokenizer): :func:`line_answer` leaves a line end on every answer but those."""
        return bool(answer.strip()) and "\n" not in answer.lstrip()

    def candidates(self, prompt: str, max_new_tokens: int, n: int = 1) -> list[str]:
        """``n`` answers: the greedy one first, then ``n - 1`` sampled ones."""
        return [self.ask(prompt, max_new_tokens)] + [
            self.ask(prompt, max_new_tokens, temperature=0.7, seed=self.seed + k) for k in range(1, n)]

    def stream_answers(self, prompts: Mapping[int, str], max_new_tokens: int, n: int = 1) -> Iterator[tuple[int, list[str]]]:
        """``(key, answers)`` for each prompt as it completes, ``concurrency`` requests at a time. On the
        first failure every answer finished by then is yielded too (the labeler records each), the requests
        not started are cancelled and the explained error is raised at once: it does not wait for the
        requests still running (up to ``retries`` x ``timeout`` each); what they bring is dropped."""
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
    """A server's answer as the local path stops it (:class:`helpers.labeler._batched.StopAtLineEnd`): up to the
    end of its first line with content, leading newlines not counting, the line end kept. A model that
    ended by itself gets the line end too; only an answer the token budget cut (``finish_reason`` "length")
    has none, so the budget rule reads it from the text, recorded or replayed."""
    line = re.match(r"\s*\S[^\n]*\n", text)
    if line:
        return line.group(0)
    return text if finish_reason == "length" or not text.strip() else text + "\n"
