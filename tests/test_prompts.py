from bertopic.representation import TextGeneration

from helpers.prompts import (
    EXAMPLE_LABEL, SYSTEM_PROMPT, build_prompt, chat_messages, fill_prompt, llama2_prompt,
)


def test_llama2_prompt_is_the_reference_template():
    prompt = llama2_prompt()
    assert prompt.startswith("\n<s>[INST] <<SYS>>\n" + SYSTEM_PROMPT + "\n<</SYS>>\n")
    assert f"[/INST] {EXAMPLE_LABEL}\n" in prompt
    assert prompt.rstrip().endswith("[/INST]")
    assert prompt.count("[INST]") == 2 and "[DOCUMENTS]" in prompt and "'[KEYWORDS]'" in prompt


def test_llama2_models_get_the_literal_template_whatever_the_tokenizer():
    assert build_prompt("meta-llama/Llama-2-13b-chat-hf", tokenizer=object()) == llama2_prompt()


def test_other_chat_models_get_their_own_template_with_the_example_as_a_prior_turn(small_llm):
    tokenizer, _, _ = small_llm
    prompt = build_prompt("packaged:SmolLM2-135M-Instruct", tokenizer)
    assert "[INST]" not in prompt and "<|im_start|>system\n" + SYSTEM_PROMPT in prompt
    assert f"<|im_start|>assistant\n{EXAMPLE_LABEL}<|im_end|>" in prompt
    assert prompt.endswith("<|im_start|>assistant\n")
    assert prompt.index(EXAMPLE_LABEL) < prompt.index("[DOCUMENTS]")
    assert [m["role"] for m in chat_messages()] == ["system", "user", "assistant", "user"]


def test_filling_matches_bertopic_textgeneration():
    prompt = llama2_prompt()
    docs, words = ["doc one", "doc two"], ["alpha", "beta"]
    topics = {0: [(w, 1.0) for w in words]}
    theirs = TextGeneration.__new__(TextGeneration)
    theirs.prompt = prompt
    assert fill_prompt(prompt, docs, words) == theirs._create_prompt(docs, 0, topics)
