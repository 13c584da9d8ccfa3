"""The labeling prompt (notebook 02): system prompt, one-shot example and main prompt, as Llama-2's ``[INST]``
text or through a model's chat template; notebook 06 adds ``[TOPICS]``."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path

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


# The short prompt: keywords alone (a tiny model copies a one-shot example's answer).
KEYWORDS_TEMPLATE = "Keywords of a topic: [KEYWORDS]\n\nName the topic in 2 to 5 words."


# Naming a hierarchy's inner node (notebook 06) from its children's labels ([TOPICS]), documents and words.
PARENT_TEMPLATE = """\
I have a group of topics: [TOPICS].
Some documents of these topics:
[DOCUMENTS]
Together they are described by the following keywords: '[KEYWORDS]'.

What do these topics have in common? Please create a short label for the group as a whole, broader than each of its topics. Make sure you to only return the label and nothing more.
"""
PARENT_EXAMPLE_TOPICS = ["Environmental impacts of eating meat", "Vegetarian recipes"]
PARENT_EXAMPLE_DOCUMENTS = """\
- Meat, but especially beef, is the word food in terms of emissions.
- Lentils, beans and tofu give a vegetarian dish as much protein as meat.
- Eating meat doesn't make you a bad person, not eating meat doesn't make you a good one.
- A vegetable curry for four, ready in twenty minutes.
"""
PARENT_EXAMPLE_KEYWORDS = "meat, vegetarian, food, eating, recipe, dish, beef, vegetables, protein, emissions"
PARENT_EXAMPLE_LABEL = "Food"


def fill_topics(template: str, labels: list[str]) -> str:
    """``[TOPICS]`` filled with ``labels`` ("Football; Tennis"), turn by turn in a :class:`ChatPrompt`."""
    topics = "; ".join(labels)
    if isinstance(template, ChatPrompt):
        return ChatPrompt([dict(m, content=m["content"].replace("[TOPICS]", topics)) for m in template.turns()])
    return template.replace("[TOPICS]", topics)


def fill_prompt(template: str, documents: list[str], keywords: list[str]) -> str:
    """Fill ``[DOCUMENTS]`` and ``[KEYWORDS]`` as BERTopic's ``TextGeneration``; a :class:`ChatPrompt` stays one."""
    if isinstance(template, ChatPrompt):
        return ChatPrompt([dict(m, content=fill_prompt(m["content"], documents, keywords)) for m in template.turns()])
    docs = "".join(f"- {doc}\n" for doc in documents)
    return template.replace("[KEYWORDS]", ", ".join(keywords)).replace("[DOCUMENTS]", docs)


def example_user_prompt() -> str:
    """The one-shot example's user turn (meat and emissions)."""
    return USER_TEMPLATE.replace("[DOCUMENTS]", EXAMPLE_DOCUMENTS).replace("[KEYWORDS]", EXAMPLE_KEYWORDS)


@dataclass(frozen=True)
class PromptParts:
    """The prompt's three parts (notebook 02): system prompt, one-shot example (user turn and answer) and main
    prompt; the defaults are the reference's."""

    system: str = SYSTEM_PROMPT
    example: str = example_user_prompt()
    example_label: str = EXAMPLE_LABEL
    main: str = USER_TEMPLATE

    def for_parents(self) -> "PromptParts":
        """The parts that name a hierarchy's inner node (notebook 06): this system prompt, a one-shot parent
        and :data:`PARENT_TEMPLATE`."""
        example = fill_topics(PARENT_TEMPLATE, PARENT_EXAMPLE_TOPICS).replace("[DOCUMENTS]", PARENT_EXAMPLE_DOCUMENTS)
        return PromptParts(system=self.system, example=example.replace("[KEYWORDS]", PARENT_EXAMPLE_KEYWORDS),
                           example_label=PARENT_EXAMPLE_LABEL, main=PARENT_TEMPLATE)

    @property
    def name(self) -> str:
        """How the label tables name this prompt (:func:`prompt_name`)."""
        return prompt_name(self)


REFERENCE = PromptParts()
PROMPT_FILE = "prompt.json"  # written by notebook 02, read by 03
LABELS_PROMPT_FILE = "labels_prompt.json"  # the prompt 03's labels were made with; 06 reads it


def _between(text: str, start: str, end: str, name: str) -> str:
    if start not in text or end not in text.split(start, 1)[1]:
        raise ValueError(f"{name} lost its {start!r} ... {end!r} markers: put them back around the text you edit.")
    return text.split(start, 1)[1].rsplit(end, 1)[0]


def parts_of_llama2_prompt(system_prompt: str, example_prompt: str, main_prompt: str) -> PromptParts:
    """The parts of notebook 02's three Llama-2 strings, so edits there reach every later cell; a ValueError
    names a lost marker."""
    system = _between(system_prompt, "<<SYS>>\n", "\n<</SYS>>", "system_prompt")
    if "[/INST]" not in example_prompt:
        raise ValueError("example_prompt lost its '[/INST]' before the example's answer: put it back.")
    head, label = example_prompt.rsplit("[/INST]", 1)
    example = head[1:] if head.startswith("\n") else head  # the string opens and closes with one newline
    example = example[:-1] if example.endswith("\n\n") else example
    main = _between(main_prompt, "[INST]\n", "[/INST]", "main_prompt")
    if "[DOCUMENTS]" not in main and "[KEYWORDS]" not in main:
        raise ValueError("main_prompt has neither [DOCUMENTS] nor [KEYWORDS]: keep at least one, BERTopic fills them "
                         "per topic.")
    return PromptParts(system=system, example=example, example_label=label.strip(), main=main)


def llama2_prompt(parts: PromptParts = REFERENCE) -> str:
    """The reference's prompt, literally, in the Llama-2 template:
    ``<s>[INST] <<SYS>> system <</SYS>> example [/INST] answer`` then ``[INST] main [/INST]``."""
    system = f"\n<s>[INST] <<SYS>>\n{parts.system}\n<</SYS>>\n"
    example = f"\n{parts.example}\n[/INST] {parts.example_label}\n"
    main = f"\n[INST]\n{parts.main}[/INST]\n"
    return system + example + main


def chat_messages(parts: PromptParts = REFERENCE) -> list[dict[str, str]]:
    """System prompt, one-shot example (user + assistant) and the main prompt as chat turns."""
    return [
        {"role": "system", "content": parts.system},
        {"role": "user", "content": parts.example},
        {"role": "assistant", "content": parts.example_label},
        {"role": "user", "content": parts.main},
    ]


def edited_parts(parts: PromptParts) -> list[str]:
    """The names of the parts that differ from the reference's (empty: the reference's prompt)."""
    return [f.name for f in fields(PromptParts) if getattr(parts, f.name) != getattr(REFERENCE, f.name)]


def prompt_name(parts: PromptParts) -> str:
    """How the label table names the prompt: "reference", or "edited: system" (the parts that changed)."""
    edited = edited_parts(parts)
    return f"edited: {', '.join(edited)}" if edited else "reference"


def save_prompt(run_dir, parts: PromptParts, name: str = PROMPT_FILE) -> Path:
    """Write ``parts`` into ``run_dir/<name>`` as JSON: 02's prompt for 03, or 03's for 06."""
    from .files import atomic_write

    path = Path(run_dir) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(asdict(parts), indent=2, ensure_ascii=False)
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def read_prompt(run_dir, name: str = PROMPT_FILE, labelled: bool = False) -> PromptParts:
    """The prompt in ``run_dir/<name>`` (``labelled``: 03's ``labels_prompt.json``, for 06), else the reference's."""
    path = Path(run_dir) / (LABELS_PROMPT_FILE if labelled else name)
    if not path.exists():
        return REFERENCE
    saved = json.loads(path.read_text(encoding="utf-8"))
    names = [f.name for f in fields(PromptParts)]
    if not isinstance(saved, dict) or sorted(saved) != sorted(names):
        raise ValueError(f"{path} is not a prompt notebook 02 wrote (it needs exactly {', '.join(names)}): "
                         f"run notebook 02 again or delete the file to use the reference's prompt.")
    return PromptParts(**{k: str(v) for k, v in saved.items()})


class ChatPrompt(str):
    """A chat server's prompt: a string of ``<|role|>`` blocks (shown in records, cache keys) carrying the turns
    sent (:meth:`turns`), so a document never adds a turn; ``+`` and ``str()`` give a plain string."""

    def __new__(cls, messages) -> "ChatPrompt":
        turns = tuple((str(m["role"]), str(m["content"])) for m in messages)
        prompt = super().__new__(cls, "".join(f"<|{role}|>\n{content}<|end|>\n" for role, content in turns))
        prompt._turns = turns
        return prompt

    def turns(self) -> list[dict[str, str]]:
        """The chat messages, a fresh list each time."""
        return [{"role": role, "content": content} for role, content in self._turns]

    def __reduce__(self):  # pickled (a saved labeler) with its turns
        return ChatPrompt, (self.turns(),)


class ChatMarkup:
    """A stand-in tokenizer for a server that applies the chat template: renders turns as a :class:`ChatPrompt`."""

    chat_template = "turns for a chat server"

    def apply_chat_template(self, messages, tokenize: bool = False, add_generation_prompt: bool = True,
                            **_) -> "ChatPrompt":
        return ChatPrompt(messages)


_TURN = re.compile(r"<\|(system|user|assistant)\|>\n(.*?)<\|end\|>\n", re.S)


def parse_chat(prompt: str) -> list[dict[str, str]]:
    """A server prompt's chat turns: a :class:`ChatPrompt`'s own, else a plain string's ``<|role|>`` blocks;
    a ValueError if none."""
    if isinstance(prompt, ChatPrompt):
        return prompt.turns()
    turns = [{"role": role, "content": content} for role, content in _TURN.findall(prompt)]
    if not turns:
        raise ValueError("This prompt has no chat turns: build it with build_prompt(model, ChatMarkup()) "
                         "for a chat server.")
    return turns


def is_llama2(model_id: str) -> bool:
    """True for Llama-2 chat checkpoints, which expect the literal ``[INST]`` template."""
    return "llama-2" in model_id.lower()


def _rendered(model_id: str, tokenizer, messages: list[dict[str, str]], llama2_text: str) -> str:
    """``messages`` as server turns, as ``llama2_text`` (Llama-2, no chat template) or via the tokenizer's template."""
    if isinstance(tokenizer, ChatMarkup):
        return tokenizer.apply_chat_template(messages)
    if is_llama2(model_id) or tokenizer is None or not getattr(tokenizer, "chat_template", None):
        return llama2_text
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def build_prompt(model_id: str, tokenizer=None, parts: PromptParts = REFERENCE) -> str:
    """The labeling prompt for ``model_id``, tags left to fill: :func:`llama2_prompt` for Llama-2, else the same
    turns through ``tokenizer.apply_chat_template``."""
    return _rendered(model_id, tokenizer, chat_messages(parts), llama2_prompt(parts))


def build_keyword_prompt(model_id: str, tokenizer=None, parts: PromptParts = REFERENCE) -> str:
    """The short prompt for ``model_id`` (``KEYWORDS_TEMPLATE``), rendered like :func:`build_prompt`."""
    messages = [{"role": "system", "content": parts.system}, {"role": "user", "content": KEYWORDS_TEMPLATE}]
    return _rendered(model_id, tokenizer, messages, f"<s>[INST] <<SYS>>\n{parts.system}\n<</SYS>>\n\n{KEYWORDS_TEMPLATE} [/INST]")
