"""Laser as a harness method: the engine's pipeline (bench/llm/method.py) around Laser's model.

What is Laser's own here: its config (laser/config.py), the frozen ID encoder (trained once per
(settings, split, seed) through the method registry, cached, loaded by every run that needs
it), the M-Former prefix model (laser/model.py) started from a BERT folder (`mformer_init`), and
M-Former pre-training before LLM phase 1 (laser/pretrain.py): behaviour-text contrastive, no
LLM; cached per (settings, encoder, split, seed) like the encoder, one process trains it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.errors import UserError
from bench.llm.method import LLMMethod
from bench.methods import FitContext


class LaserMethod(LLMMethod):
    family = "Laser"
    uses_collaborative_ids = True
    version = 2  # 2: the released code's pipeline (pre-training, phase 1 with item gradient, phase 2)

    probes = LLMMethod.probes + ("id_shuffled", "item_id_shuffled", "id_mean")

    @classmethod
    def _resolve(cls, config: Mapping[str, Any] | None):
        from laser.config import resolve

        return resolve(config)

    @classmethod
    def config_for_fraction(cls, config, scale: int):
        # beside the LLM phases: M-Former pre-training's passes over the users' prefixes, and
        # the frozen ID encoder, which trains on the same fraction, by its own method's rule
        from bench.methods import METHODS

        cfg = cls._resolve(config)
        encoder = METHODS.get(cfg.id_encoder).config_for_fraction(cfg.id_encoder_config, scale)
        return {**super().config_for_fraction(config, scale), "pretrain_epochs": cfg.pretrain_epochs * scale, "id_encoder_config": dict(encoder)}

    @classmethod
    def ablation_components(cls) -> dict[str, str]:
        from laser.ablations import COMPONENTS

        return {name: COMPONENTS.help(name) for name in COMPONENTS}

    @classmethod
    def ablation_variants(cls, component: str, profile: str) -> dict[str, dict[str, Any]]:
        from laser.ablations import variants

        return variants(component, profile)

    @property
    def aux_weight(self) -> float:
        return self.cfg.balance_weight

    def _encoder_method(self):
        """The ID recommender behind the frozen encoder, built from `id_encoder_config` through
        the method registry (Laser imports no baseline)."""
        from bench.methods import METHODS

        try:
            return METHODS.get(self.cfg.id_encoder)(self.cfg.id_encoder_config)
        except UserError as exc:
            raise UserError(f"laser id_encoder_config: {exc}") from None

    def _encoder(self, split, ctx: FitContext):
        from laser.id_encoder import FrozenIdEncoder

        trainer = self._encoder_method()
        settings = trainer.settings
        path = trainer.cache_path(ctx.cache_dir, split.hash, ctx.seed)
        # the [MASK] of `id_next_state` takes one of the encoder's positions
        window = settings.max_seq_length - int(FrozenIdEncoder.appends_mask(trainer.model_name, self.cfg.id_next_state))
        id_history = self.cfg.id_history or window
        if id_history > window:
            raise UserError(f"laser id_history ({id_history}) exceeds the {window} items the ID encoder reads (max_seq_length {settings.max_seq_length}{', one position for the [MASK] of id_next_state' if window < settings.max_seq_length else ''})")
        # one process trains a missing encoder; the others (ranks of a launch, parallel Laser
        # variants) wait for it and load the cache
        with ctx.lock(f"encoder-{path.stem}"):
            if not path.exists():
                on_epoch = None
                if ctx.on_epoch:
                    ctx.on_epoch({"note": f"training the frozen {trainer.model_name} encoder (cached at {path})"})
                    # its epochs are minutes of a Laser run's start: shown as the run's own lines
                    on_epoch = lambda info: ctx.on_epoch({"id_encoder": trainer.model_name, **info})  # noqa: E731
                inner = FitContext(workdir=ctx.workdir / "id_encoder", seed=ctx.seed, results_root=ctx.results_root, progress=ctx.progress, on_epoch=on_epoch, rebalance=ctx.rebalance)
                trainer.fit(split, inner)
        method = type(trainer).load(path, split, ctx.results_root, ctx.workdir / "id_encoder_load")
        self._encoder_key = path.stem
        self.id_method = method  # the encoder as a recommender in its own right (laser_fusion scores with it)
        return FrozenIdEncoder(method, id_history, self.cfg.id_next_state)

    def resolved_config(self) -> dict[str, Any]:
        """`cfg` with the frozen ID encoder's settings resolved too (RecBole defaults filled in):
        a changed encoder default changes the encoder, so it must change the run key."""
        import dataclasses

        resolved = dataclasses.asdict(self.cfg)
        if self.cfg.prefix != "none":
            resolved["id_encoder_config"] = self._encoder_method().resolved_config()
        return resolved

    def preflight(self) -> None:
        super().preflight()  # the LLM folder
        if self.cfg.prefix != "none":
            self._encoder_method()  # the encoder is trained inside fit, after the LLM has loaded
        if self.cfg.prefix == "mformer" and self.cfg.mformer_init != "random":
            from laser.mformer_init import check_init

            check_init(self.cfg.mformer_init)

    def _side_inputs(self, split, ctx: FitContext, given=None):
        """The frozen ID encoder (`given`, or trained / loaded from the cache); None without a prefix."""
        if self.cfg.prefix == "none":
            return None
        return given if given is not None else self._encoder(split, ctx)

    def _make_model(self, backbone, prompts, id_encoder):
        from laser.model import LaserModel

        return LaserModel(backbone, prompts, id_encoder, self.cfg)

    # the engine's hooks: M-Former init after building, pre-training before phase 1, expert usage after
    def _after_build(self) -> None:
        self._init_mformer()

    def _before_training(self, split, ctx: FitContext) -> dict[str, Any]:
        return self._pretrain(split, ctx)

    def _analysis(self, split) -> dict[str, Any]:
        return self._expert_usage(split)

    def build(self, split, ctx: FitContext, id_encoder=None):
        return super().build(split, ctx, id_encoder)

    def fit(self, split, ctx: FitContext, id_encoder=None) -> dict[str, Any]:
        return super().fit(split, ctx, id_encoder)

    def restore(self, split, ctx: FitContext, kept: dict[str, Any], id_encoder=None) -> None:
        return super().restore(split, ctx, kept, id_encoder)

    def _probe_changes(self, name: str, split, seed: int):
        """The ID probes: the frozen encoder reads other histories, or one mean state."""
        from bench.llm.probes import derangement, patched

        if name not in ("id_shuffled", "item_id_shuffled", "id_mean"):
            return super()._probe_changes(name, split, seed)
        encoder = getattr(self.model, "id_encoder", None)
        if encoder is None:
            raise UserError(f"laser probe {name}: this variant reads no ID encoder (prefix: none)")
        if name == "id_shuffled":  # user side: each user's ID states are another user's
            histories = split.histories("test")
            order = derangement(len(histories), seed, name)
            other = {tuple(h): histories[order[u]] for u, h in enumerate(histories)}
            return None, lambda: patched(encoder, history_map=lambda hs: [other.get(tuple(h), h) for h in hs])
        if name == "item_id_shuffled":  # item side: each item's prefix from another item's ID state
            order = derangement(split.n_items, seed, name)
            return lambda: patched(encoder, history_map=lambda hs: [[1 + order[i - 1] for i in h] for h in hs]), None
        mean = self._mean_id_state(split)  # id_mean, both sides: no collaborative signal left
        change = lambda: patched(encoder, constant_state=mean)  # noqa: E731
        return change, change

    def _mean_id_state(self, split):
        """The encoder's mean state over every valid position of the test users' histories."""
        import torch

        histories = split.histories("test")
        total, count = None, 0
        with torch.inference_mode():
            for start in range(0, len(histories), 256):
                states, valid = self.model.id_encoder(histories[start : start + 256])
                summed = (states.float() * valid[..., None]).sum((0, 1))
                total = summed if total is None else total + summed
                count += int(valid.sum())
        return total / max(count, 1)

    def _uses_mformer(self) -> bool:
        from laser.mformer import MFormer

        return isinstance(getattr(self.model, "prefix", None), MFormer)

    def _init_mformer(self) -> None:
        """Copy a BERT folder's layers into the M-Former (`mformer_init`); keep the folder's text
        path for pre-training."""
        from bench.llm.backbone import cache_root
        from laser.mformer_init import bert_folder, bert_shape, copy_bert_layers, load_bert

        self._bert = None
        if not self._uses_mformer():
            return
        folder = bert_folder(self.cfg.mformer_init, cache_root())
        if folder is None:
            return
        shape = bert_shape(folder)
        ours = {k: getattr(self.cfg, k) for k in shape}
        if ours != shape:
            raise UserError(f"laser mformer_init {self.cfg.mformer_init}: the folder has {shape}; set these M-Former keys to match (the config has {ours})")
        self._bert = load_bert(folder)
        copy_bert_layers(self.model.prefix, self._bert[0])

    # ------------------------------------------------------------------ training

    def _pretrain(self, split, ctx: FitContext) -> dict[str, Any]:
        """M-Former pre-training, cached per (settings, encoder, split, seed); {} when off."""
        import torch

        from bench.configs import content_hash
        from bench.io import atomic_torch_save
        from laser.mformer_init import BertText, LLMTokenText
        from laser.pretrain import PretrainHeads, pretrain

        if not self._uses_mformer() or self.cfg.pretrain_epochs == 0:
            return {}
        cfg = self.cfg
        keys = ("mformer_init", "pretrain_epochs", "pretrain_lr", "pretrain_batch_size", "pretrain_top_k", "pretrain_dim", "pretrain_text_tokens",
                "experts", "queries", "moe", "mformer_hidden", "mformer_heads", "mformer_blocks", "balance_weight", "weight_decay", "warmup_steps", "min_lr")
        ident = {k: getattr(cfg, k) for k in keys}
        # the random start's text path reads the LLM's token embeddings
        ident.update(encoder=getattr(self, "_encoder_key", None), id_history=self.model.id_encoder.history, split=split.hash, seed=ctx.seed,
                     llm=None if self._bert else self.model.backbone.config.name_or_path, version=1)
        if self.model.id_encoder.next_state:  # keyed only when on, so the caches of earlier runs stay valid
            ident["next_state"] = True
        path = Path(ctx.cache_dir) / "mformer" / f"mformer-{content_hash(ident)}.pt"
        mformer = self.model.prefix
        with ctx.lock(f"mformer-{path.stem}"):
            if not path.exists():
                if ctx.on_epoch:
                    ctx.on_epoch({"note": f"pre-training the M-Former, {cfg.pretrain_epochs} epoch(s) (cached at {path})"})
                hidden = cfg.mformer_hidden
                if self._bert:
                    bert, tokenizer = self._bert
                    text_path = BertText(bert, tokenizer, list(split.dataset.item_text), cfg.pretrain_text_tokens)
                else:
                    text_path = LLMTokenText(self.model.embed, self.model.prompts.items, hidden, cfg.pretrain_text_tokens)
                heads = PretrainHeads(text_path, hidden, cfg.pretrain_dim).to(self.device())
                torch.manual_seed(ctx.seed)
                curve = pretrain(mformer, heads, self.model.id_encoder, split.training_sequences(), cfg, ctx.seed, self.model.id_encoder.history, ctx.progress, ctx.on_epoch)
                weights = {k: v for k, v in mformer.state_dict().items() if not k.startswith("proj.")}  # proj maps to the LLM: not pre-trained
                atomic_torch_save({"weights": weights, "curve": curve}, path)
        blob = torch.load(path, map_location="cpu", weights_only=True)
        mformer.load_state_dict(blob["weights"], strict=False)
        return {"curve": blob["curve"], "cache": path.name}

    def _expert_usage(self, split) -> dict[str, Any]:
        """Which expert each test user is routed to, by history-length quartile (for the figure)."""
        import numpy as np
        import torch

        from laser.mformer import MFormer

        if not isinstance(self.model.prefix, MFormer) or self.model.prefix.router is None:
            return {}
        histories = split.histories("test")
        lengths = np.array([len(h) for h in histories])
        with torch.inference_mode():
            chosen = []
            for start in range(0, split.n_users, 256):
                states, valid = self.model.id_encoder(histories[start : start + 256])
                _, p_user = self.model.prefix.route(states, valid.float())
                chosen.append(p_user.argmax(-1).cpu())
        chosen = torch.cat(chosen).numpy()
        edges = np.quantile(lengths, [0.25, 0.5, 0.75])
        group = np.searchsorted(edges, lengths, side="right")
        K = self.model.prefix.experts
        usage = {}
        for g in range(4):
            members = chosen[group == g]
            if len(members):
                lo, hi = int(lengths[group == g].min()), int(lengths[group == g].max())
                usage[f"Q{g + 1} ({lo}-{hi} items)"] = (np.bincount(members, minlength=K) / len(members)).round(4).tolist()
        return {"expert_usage": usage}
