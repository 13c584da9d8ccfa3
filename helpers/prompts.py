"""The labeling prompt: the reference's system prompt, one-shot example and main prompt.

BERTopic fills two tags per topic: ``[DOCUMENTS]`` (its most representative documents,
one ``- doc`` line each) and ``[KEYWORDS]`` (its top c-TF-IDF words). For Llama-2 chat
models the prompt is the reference's literal ``<s>[INST] <<SYS>> ... [/INST]`` text;
for any other chat model the same three parts go through the model's own chat
template, the example as a previous user/assistant turn.
"""

from __future__ import annotations

import re

SYSTEM_PROMPT = "You are a helpful, respectful and honest assistant for labeling topics."

EXAMPLE_DOCUMENTS = """\
- Traditional diets in most cultures were primarily plant-based with a little meat on top, but with the rise of industrial style meat production and factory farming, meat has become a staple food.
- Meat, but especially beef, is the word food in terms of emissions.
- Eating meat doesn't make you a bad person, not eating meat doesn't make you a good one.
"""

EXAMPLE_KEYWORDS = "meat, beef, eat, eating, emissions, steak, food, health, processed, chicken"

EXAMPLE_LABEL = "Environmental impacts of eating meat"

USER_TEMPLATE = """\
I have a topic that contains the following documents:
[DOCUMENTS]
The topic is described by the following keywords: '[KEYWORDS]'.

Based on the information about the topic above, please create a short label of this topic. Make sure you to only return the label and nothing more.
"""


# Our second, short prompt (BENCHMARKS.md, "prompt variants"): the keywords alone. A 135M model
# copies a one-shot example's answer onto other topics and turns documents into a headline;
# asked for a name from the keywords, it often answers with one ("Tennis", "The Premier League").
KEYWORDS_TEMPLATE = "Keywords of a topic: [KEYWORDS]\n\nName the topic in 2 to 5 words."


def fill_prompt(template: str, documents: list[str], keywords: list[str]) -> str:
    """Fill ``[DOCUMENTS]`` and ``[KEYWORDS]`` the way BERTopic's ``TextGeneration`` does."""
    docs = "".join(f"- {doc}\n" for doc in documents)
    return template.replace("[KEYWORDS]", ", ".join(keywords)).replace("[DOCUMENTS]", docs)


def example_user_prompt() -> str:
    """The one-shot example's user turn (meat and emissions)."""
    return USER_TEMPLATE.replace("[DOCUMENTS]", EXAMPLE_DOCUMENTS).replace("[KEYWORDS]", EXAMPLE_KEYWORDS)


def llama2_prompt() -> str:
    """The reference's prompt, literally, in the Llama-2 chat template.

    ``<s>[INST] <<SYS>> system <</SYS>> example [/INST] answer`` followed by
    ``[INST] main prompt [/INST]``: the example is a finished first turn.
    """
    system = f"\n<s>[INST] <<SYS>>\n{SYSTEM_PROMPT}\n<</SYS>>\n"
    example = f"\n{example_user_prompt()}\n[/INST] {EXAMPLE_LABEL}\n"
    main = f"\n[INST]\n{USER_TEMPLATE}[/INST]\n"
    return system + example + main


def chat_messages() -> list[dict[str, str]]:
    """System prompt, one-shot example (user + assistant) and the main prompt as chat turns."""
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": example_user_prompt()},
        {"role": "assistant", "content": EXAMPLE_LABEL},
        {"role": "user", "content": USER_TEMPLATE},
    ]


class ChatMarkup:
    """A stand-in for a tokenizer when a server applies the chat template (``llm_backend = "openai"``).

    Renders the chat turns as ``<|role|>`` blocks, readable in the recorded prompts, which
    :func:`parse_chat` turns back into exactly the same messages for the server. ``build_prompt``
    and ``build_keyword_prompt`` use it for every model, Llama-2 included: the server renders
    Llama-2's ``[INST]`` template from the turns.
    """

    chat_template = "turns for a chat server"

    def apply_chat_template(self, messages, tokenize: bool = False, add_generation_prompt: bool = True, **_) -> str:
        return "".join(f"<|{m['role']}|>\n{m['content']}<|end|>\n" for m in messages)


_TURN = re.compile(r"<\|(system|user|assistant)\|>\n(.*?)<\|end\|>\n", re.S)


def parse_chat(prompt: str) -> list[dict[str, str]]:
    """The chat turns of a prompt rendered by :class:`ChatMarkup` (with its tags filled)."""
    turns = [{"role": role, "content": content} for role, content in _TURN.findall(prompt)]
    if not turns:
        raise ValueError("This prompt has no chat turns: build it with build_prompt(model, ChatMarkup()) "
                         "for a chat server.")
    return turns


def is_llama2(model_id: str) -> bool:
    """True for Llama-2 chat checkpoints, which expect the literal ``[INST]`` template."""
    return "llama-2" in model_id.lower()


def _rendered(model_id: str, tokenizer, messages: list[dict[str, str]], llama2_text: str) -> str:
    """``messages`` for ``model_id``: as chat turns for a server (:class:`ChatMarkup`), as ``llama2_text``
    for Llama-2 or a tokenizer without a chat template, else through the tokenizer's own template."""
    if isinstance(tokenizer, ChatMarkup):
        return tokenizer.apply_chat_template(messages)
    if is_llama2(model_id) or tokenizer is None or not getattr(tokenizer, "chat_template", None):
        return llama2_text
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def build_prompt(model_id: str, tokenizer=None) -> str:
    """The labeling prompt for ``model_id``, with ``[DOCUMENTS]``/``[KEYWORDS]`` left to fill.

    Llama-2 models get :func:`llama2_prompt`; other chat models get the same turns
    rendered by ``tokenizer.apply_chat_template`` (ending with the assistant's cue).
    """
    return _rendered(model_id, tokenizer, chat_messages(), llama2_prompt())


def build_keyword_prompt(model_id: str, tokenizer=None) -> str:
    """The short keywords-only prompt for ``model_id``: the system prompt and ``KEYWORDS_TEMPLATE``,
    in the Llama-2 template or the model's own, like :func:`build_prompt`."""
    messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": KEYWORDS_TEMPLATE}]
    return _rendered(model_id, tokenizer, messages, f"<s>[INST] <<SYS>>\n{SYSTEM_PROMPT}\n<</SYS>>\n\n{KEYWORDS_TEMPLATE} [/INST]")


def as_chat(tokenizer, text: str) -> str:
    """``text`` as a single user turn in the model's chat template, ready to generate."""
    if not getattr(tokenizer, "chat_template", None):
        return text
    return tokenizer.apply_chat_template([{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True)
