"""A tiny randomly initialised Llama with a word-level tokenizer built offline from item texts."""

from __future__ import annotations


def tiny_backbone(texts, hidden: int = 32, layers: int = 2, seed: int = 0):
    from bench.llm.backbone import load_backbone

    model, tokenizer = tiny_llama(texts, hidden, layers, seed)
    return load_backbone(model=model, tokenizer=tokenizer)


def tiny_llm_folder(texts, folder, hidden: int = 32, layers: int = 2, seed: int = 0):
    """The tiny Llama saved as a Hugging Face folder: what `llm: PATH` reads, for runs the
    runner builds from a config (a subprocess cannot be handed a model object)."""
    model, tokenizer = tiny_llama(texts, hidden, layers, seed)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def tiny_llama(texts, hidden: int = 32, layers: int = 2, seed: int = 0):
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from bench.llm.prompt import HISTORY_LEAD, INSTRUCTIONS

    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    corpus = list(texts) + list(INSTRUCTIONS.values()) + [HISTORY_LEAD] + [f">> {k}." for k in range(1, 11)]
    tok.train_from_iterator(corpus, trainers.WordLevelTrainer(special_tokens=["[UNK]", "</s>"]))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", eos_token="</s>", pad_token="</s>")
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, eos_token_id=1, pad_token_id=1,
    )
    return LlamaForCausalLM(config), tokenizer


TINY_LASER = {
    "profile": "cpu",
    "llm_layers": None,  # the tiny Llama has 2 layers (the cpu profile keeps 15)
    "history": 4,
    "experts": 3,
    "queries": 2,
    "mformer_hidden": 16,
    "mformer_heads": 2,
    "mformer_blocks": 2,
    "batch_size": 16,
    "phase1_epochs": 1,
    "phase2_epochs": 1,
    "examples": "sample",
    "valid_users": 40,
    "eval_batch_size": 64,
    "autocast": "off",
    "validate_init": False,  # the diagnostics test turns it on
    "id_encoder_config": {"epochs": 1, "max_seq_length": 10, "train_rows_per_user": 5, "train_batch_size": 256},
}
