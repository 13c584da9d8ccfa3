"""Loading code, exercised on the packaged model (the Hub path is the same call)."""

import json

import pytest

from helpers.llm import explain_loading_error, load_llm, model_path, quantization_config


def test_reference_quantization_config_has_the_four_knobs():
    import torch

    config = quantization_config("nf4")
    assert config.load_in_4bit and config.bnb_4bit_quant_type == "nf4"
    assert config.bnb_4bit_use_double_quant and config.bnb_4bit_compute_dtype == torch.bfloat16
    assert quantization_config("int8").load_in_8bit and quantization_config("none") is None


def test_packaged_gguf_is_materialized_once_into_a_plain_safetensors_folder(monkeypatch):
    import transformers

    folder = model_path("packaged:SmolLM2-135M-Instruct")

    def convert_again(*args, **kwargs):
        raise AssertionError("the GGUF file was read and converted a second time")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", convert_again)
    assert model_path("packaged:SmolLM2-135M-Instruct") == folder, "the second call reuses the folder"
    config = json.loads(open(f"{folder}/config.json").read())
    assert "quantization_config" not in config
    assert model_path("meta-llama/Llama-2-13b-chat-hf") == "meta-llama/Llama-2-13b-chat-hf"


def test_nf4_shrinks_the_model_and_pads_left():
    tokenizer, model = load_llm("packaged:SmolLM2-135M-Instruct", "nf4")
    assert model.get_memory_footprint() < 200e6 and tokenizer.padding_side == "left" and not model.training


def test_gated_refusal_is_one_sentence_with_the_link():
    error = explain_loading_error(OSError("You are trying to access a gated repo. 401 Client Error"), "meta-llama/Llama-2-13b-chat-hf")
    assert isinstance(error, PermissionError)
    assert "https://huggingface.co/meta-llama/Llama-2-13b-chat-hf" in str(error) and "colab-t4-open" in str(error)


def test_gpu_out_of_memory_suggests_a_smaller_model_or_offline():
    error = explain_loading_error(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"), "meta-llama/Llama-2-13b-chat-hf")
    assert isinstance(error, MemoryError) and "Llama-2-7b-chat-hf" in str(error) and "profile = 'offline'" in str(error)


def test_other_errors_pass_through_unchanged():
    error = ValueError("something else")
    assert explain_loading_error(error, "x") is error
    unrelated = ValueError("Tensor of shape (4013, 64) does not match (4030, 64)")
    assert explain_loading_error(unrelated, "x") is unrelated, "4013 is not an HTTP 401"
    refused = explain_loading_error(OSError("403 Client Error: Forbidden for url"), "x")
    assert isinstance(refused, PermissionError)


def test_remote_code_is_never_trusted(monkeypatch):
    import transformers

    seen = []

    class Refuse(Exception):
        pass

    def spy(path, **kwargs):
        seen.append(kwargs.get("trust_remote_code"))
        raise Refuse()

    def tokenizer(path, **kwargs):  # returns, so the call goes on to the model
        seen.append(("tokenizer", kwargs.get("trust_remote_code")))
        return object()

    def model(path, **kwargs):
        seen.append(("model", kwargs.get("trust_remote_code")))
        raise Refuse()

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", tokenizer)
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", model)
    with pytest.raises(Refuse):
        load_llm("some/model", "none")
    assert seen == [("tokenizer", False), ("model", False)], "both the tokenizer and the model refuse remote code"


def test_the_embedding_model_never_trusts_remote_code(monkeypatch):
    import sentence_transformers

    from helpers.topics import load_embedding_model

    seen = {}
    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", lambda path, **kw: seen.update(kw) or path)
    load_embedding_model("BAAI/bge-small-en")
    assert seen["trust_remote_code"] is False


# ---- issue 25, items 15 and 17 -----------------------------------------------------------------
def test_a_local_model_folder_is_no_download(tmp_path):
    """A folder given as llm_model is read where it is: no "First it downloads", no disk check."""
    from helpers.llm import preflight
    from helpers.settings import resolve_settings

    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({
        "model_type": "llama", "num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4,
        "num_key_value_heads": 4, "intermediate_size": 128, "vocab_size": 1000, "torch_dtype": "float32"}))
    settings = resolve_settings("offline", llm_model=str(folder), quantization="none")
    line = preflight(settings, available=64e9, where="test", disk_free=0)
    assert "downloads" not in line and line.startswith(f"{folder} (none")


def test_the_converted_offline_model_is_keyed_by_the_gguf_content(tmp_path, monkeypatch):
    """A folder converted from another GGUF file (or from before the key was recorded) is converted again;
    one converted from this very content is reused without reading the GGUF."""
    import transformers

    from helpers.packaged import SOURCE_FILE, converted_from, gguf_source, materialize_gguf

    gguf_dir = tmp_path / "package"
    gguf_dir.mkdir()
    (gguf_dir / "model.gguf").write_bytes(b"GGUF version 2 weights")
    out = tmp_path / "models" / "SmolLM2-135M-Instruct"
    out.mkdir(parents=True)
    for name in ("config.json", "model.safetensors"):
        (out / name).write_text("{}")  # an earlier conversion, of some other file

    class Converting(Exception):
        pass

    def convert(*args, **kwargs):
        raise Converting

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", convert)
    with pytest.raises(Converting):
        materialize_gguf(gguf_dir, "model.gguf", out)
    (out / SOURCE_FILE).write_text(json.dumps({"gguf_file": "model.gguf", "sha256": "0" * 64}))
    with pytest.raises(Converting):
        materialize_gguf(gguf_dir, "model.gguf", out)
    (out / SOURCE_FILE).write_text(json.dumps(gguf_source(gguf_dir, "model.gguf")))
    assert materialize_gguf(gguf_dir, "model.gguf", out) == out, "the same content: reused, nothing read"
    assert converted_from(out)["sha256"] == __import__("hashlib").sha256(b"GGUF version 2 weights").hexdigest()


def test_the_ungated_workshop_profile_is_the_llama2_path_with_another_model():
    """Issue 36: profile "colab-t4-open" is colab-t4 with an ungated chat model; its loading code (nf4) and its
    chat template run here with the packaged model standing in for it."""
    from dataclasses import asdict

    from helpers.llm import make_generator
    from helpers.prompts import build_prompt, fill_prompt
    from helpers.settings import NON_GATED_CHAT_MODEL, PACKAGED_LLM, resolve_settings

    ungated, llama = asdict(resolve_settings("colab-t4-open")), asdict(resolve_settings("colab-t4"))
    assert {k for k in ungated if ungated[k] != llama[k]} == {"profile", "llm_model"}
    assert ungated["llm_model"] == NON_GATED_CHAT_MODEL and ungated["quantization"] == "nf4"
    tokenizer, model = load_llm(PACKAGED_LLM, ungated["quantization"])  # the call 03 makes for it, 4-bit
    prompt = build_prompt(ungated["llm_model"], tokenizer)  # not a Llama-2 id: the model's own chat template
    assert "[INST]" not in prompt and prompt.startswith("<|im_start|>system")
    filled = fill_prompt(prompt, ["Rafael Nadal won the Australian Open final in Melbourne."], ["tennis", "open"])
    answer = make_generator(model, tokenizer)(filled, max_new_tokens=8, do_sample=False)[0]["generated_text"]
    assert answer.startswith(filled) and len(answer) > len(filled)
