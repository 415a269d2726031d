"""A tiny randomly initialised Llama (or Gemma 3) with a word-level tokenizer built offline from item texts."""

from __future__ import annotations


def tiny_backbone(texts, hidden: int = 32, layers: int = 2, seed: int = 0):
    from bench.llm.backbone import load_backbone

    model, tokenizer = tiny_llama(texts, hidden, layers, seed)
    return load_backbone(model=model, tokenizer=tokenizer)


def tiny_gemma_backbone(texts, **kwargs):
    from bench.llm.backbone import load_backbone

    model, tokenizer = tiny_gemma(texts, **kwargs)
    return load_backbone(model=model, tokenizer=tokenizer)


def tiny_llm_folder(texts, folder, hidden: int = 32, layers: int = 2, seed: int = 0):
    """The tiny Llama saved as a Hugging Face folder: what `llm: PATH` reads, for runs the
    runner builds from a config (a subprocess cannot be handed a model object)."""
    model, tokenizer = tiny_llama(texts, hidden, layers, seed)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def word_tokenizer(texts):
    """A word-level tokenizer over the item texts and the prompt template: [UNK] 0, </s> 1."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from bench.llm.prompt import HISTORY_LEAD, INSTRUCTIONS

    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    corpus = list(texts) + list(INSTRUCTIONS.values()) + [HISTORY_LEAD] + [f">> {k}." for k in range(1, 11)]
    tok.train_from_iterator(corpus, trainers.WordLevelTrainer(special_tokens=["[UNK]", "</s>"]))
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", eos_token="</s>", pad_token="</s>")


def tiny_llama(texts, hidden: int = 32, layers: int = 2, seed: int = 0):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = word_tokenizer(texts)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, eos_token_id=1, pad_token_id=1,
    )
    return LlamaForCausalLM(config), tokenizer


def tiny_gemma(texts, hidden: int = 64, layers: int = 2, sliding_window: int = 512, seed: int = 0):
    """Gemma 3's text model in small: its scaled embedding (x sqrt(hidden)), (1 + w) RMS norms,
    query/key norms, and sliding-window layers before a full-attention one, as in the 270M
    model's 5:1 pattern."""
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    tokenizer = word_tokenizer(texts)
    torch.manual_seed(seed)
    config = Gemma3TextConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=1, head_dim=16, query_pre_attn_scalar=16, sliding_window=sliding_window,
        layer_types=["sliding_attention"] * (layers - 1) + ["full_attention"], max_position_embeddings=512,
        eos_token_id=1, pad_token_id=1, bos_token_id=1,
    )
    model = Gemma3ForCausalLM(config)
    with torch.no_grad():  # Gemma's norms are (1 + w), zero at init: random w so the test sees them
        for name, p in model.named_parameters():
            if "norm" in name:
                p.normal_(0, 0.1)
    return model, tokenizer


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
