"""Laser as a harness method: two-stage training with the item matrix, checkpointed each epoch.

Training rows (option `examples`): `all_prefixes` is one row per prefix of each user's training
sequence (the released code); `sample` draws `examples_per_user` random prefix ends per user
each epoch (seeded by seed, stage and epoch); `last` is each user's full training sequence
predicting its last training item. The history of a row is capped at `history` items.

Stage 1 re-encodes the item matrix I at the start of every epoch (no gradient through I;
the matrix encoded after epoch e serves epoch e + 1 and epoch e's validation) and keeps the
epoch with the best validation NDCG@10. Stage 2 starts from that epoch's weights, freezes its
I, and again keeps the best epoch. The final model is the best validated epoch of the two
stages (stage 2 wins ties only if it is strictly better). Interrupted training resumes from the last finished epoch;
every random draw is seeded per (stage, epoch), so a resumed run equals an uninterrupted one.

The loop runs under HF accelerate: in one process it is the plain loop; under `accelerate launch`
(or torchrun) each process takes every world-th batch of the epoch (an epoch drops the last
batches that do not divide evenly), gradients are averaged by DDP (gloo on CPU, nccl on GPU),
every process re-encodes items and validates identically, and only the main process writes
checkpoints. The effective batch is world x batch_size.
"""

from __future__ import annotations

import random
import time
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

from bench.methods import FitContext, Method, ParameterCounts, count_parameters

STAGES = ("stage1", "stage2")


class LaserMethod(Method):
    family = "Laser"
    uses_collaborative_ids = True
    distributed = True  # trains under `accelerate launch` (the runner checks this)

    def __init__(self, config: Mapping[str, Any] | None = None, backbone=None) -> None:
        self.cfg = self._resolve(config)
        self._injected_backbone = backbone  # tests pass a tiny random Llama here
        self.model = None
        self.items = None
        self.analysis: dict[str, Any] = {}
        self._accelerator = None

    @classmethod
    def _resolve(cls, config: Mapping[str, Any] | None):
        """The config (profile, then explicit keys); the LLM baselines resolve their own."""
        from laser.config import resolve

        return resolve(config)

    # ------------------------------------------------------------------ building

    def _device(self):
        import torch

        if self._accelerator is not None and self.cfg.device == "auto":
            return self._accelerator.device  # cuda:LOCAL_RANK under a multi-GPU launch
        if self.cfg.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.cfg.device)

    def _make_accelerator(self):
        import torch
        from accelerate import Accelerator
        from accelerate.utils import DistributedDataParallelKwargs

        cpu = self.cfg.device == "cpu" or (self.cfg.device == "auto" and not torch.cuda.is_available())
        # top-1 routing leaves the other experts without a gradient in a step (find_unused);
        # the frozen backbone's buffers are constants (no per-step broadcast)
        ddp = DistributedDataParallelKwargs(find_unused_parameters=True, broadcast_buffers=False)
        # mixed precision stays ours (bf16 autocast inside the model); placement too (`_device`)
        return Accelerator(cpu=cpu, device_placement=False, kwargs_handlers=[ddp])

    def _encoder(self, split, ctx: FitContext):
        from baselines.recbole_models import METHOD_CLASSES, RecBoleSettings, encoder_cache_path
        from bench.configs import from_mapping
        from bench.runner import run_lock
        from laser.id_encoder import FrozenIdEncoder

        cls = METHOD_CLASSES["BERT4Rec" if self.cfg.id_encoder == "bert4rec" else "SASRec"]
        settings = from_mapping(RecBoleSettings, self.cfg.id_encoder_config, "laser id_encoder_config")
        path = encoder_cache_path(ctx.results_root, cls.model_name, settings, split.hash, ctx.seed)
        # one process trains a missing encoder; the others (ranks of a launch, parallel Laser
        # variants) wait for it and load the cache
        with run_lock(ctx.results_root, f"encoder-{path.stem}", wait=True):
            if not path.exists():
                if ctx.on_epoch:
                    ctx.on_epoch({"note": f"training the frozen {cls.model_name} encoder (cached at {path})"})
                trainer = cls(self.cfg.id_encoder_config)
                trainer.fit(split, FitContext(workdir=ctx.workdir / "id_encoder", seed=ctx.seed, results_root=ctx.results_root, progress=ctx.progress))
        method = cls.load(path, split, ctx.results_root, ctx.workdir / "id_encoder_load")
        return FrozenIdEncoder(method, self.cfg.history)

    def preflight(self) -> None:
        from baselines.recbole_models import METHOD_CLASSES
        from bench.errors import UserError
        from laser.backbone import check_llm

        if self._injected_backbone is None:
            check_llm(self.cfg.llm, self.cfg.trust_remote_code)
        if self.cfg.prefix != "none":
            try:  # the encoder is trained inside fit, after the LLM has loaded
                METHOD_CLASSES["BERT4Rec" if self.cfg.id_encoder == "bert4rec" else "SASRec"](self.cfg.id_encoder_config)
            except UserError as exc:
                raise UserError(f"laser id_encoder_config: {exc}") from None

    def _make_model(self, backbone, prompts, id_encoder):
        """The model trained by `fit`; the LLM baselines override this (peft-wrapped backbone)."""
        from laser.model import LaserModel

        return LaserModel(backbone, prompts, id_encoder, self.cfg)

    def build(self, split, ctx: FitContext, id_encoder=None):
        from laser.backbone import load_backbone, set_attention
        from laser.prompt import PromptBuilder

        if self._injected_backbone is not None:
            backbone = self._injected_backbone
        else:
            from laser.model import bf16_supported

            dtype = self.cfg.dtype if self.cfg.dtype != "auto" else ("bf16" if bf16_supported() else "fp32")
            backbone = load_backbone(self.cfg.llm, dtype, self.cfg.trust_remote_code)
        self.attention = set_attention(backbone.decoder, self.cfg.attention, self._device().type)
        if self.cfg.prefix == "none":
            id_encoder = None
        elif id_encoder is None:
            id_encoder = self._encoder(split, ctx)
        prompts = PromptBuilder(backbone.tokenizer, split.dataset.item_text, self.cfg.template, self.cfg.history)
        self.backbone_params = backbone.n_params
        # what the loaded causal LM holds outside the decoder (an untied LM head): counted, never used
        self._params_outside_model = backbone.n_params - sum(p.numel() for p in backbone.decoder.parameters())
        self.model = self._make_model(backbone, prompts, id_encoder).to(self._device())
        return self.model

    # ------------------------------------------------------------------ training

    def training_rows(self, split, seed: int, stage: str, epoch: int) -> list[tuple[tuple[int, ...], int]]:
        rng = random.Random(f"{seed}-{stage}-{epoch}")
        rows = []
        H = self.cfg.history
        for seq in split.train:
            if len(seq) < 2:
                continue
            if self.cfg.examples == "all_prefixes":
                ends = range(1, len(seq))
            elif self.cfg.examples == "last":
                ends = [len(seq) - 1]
            else:
                ends = [rng.randrange(1, len(seq)) for _ in range(self.cfg.examples_per_user)]
            rows.extend((tuple(seq[max(0, j - H) : j]), seq[j]) for j in ends)
        rng.shuffle(rows)
        return rows

    def _valid_subset(self, split, seed: int) -> list[int]:
        users = list(range(split.n_users))
        if self.cfg.valid_users and self.cfg.valid_users < len(users):
            users = sorted(random.Random(f"{seed}-valid").sample(users, self.cfg.valid_users))
        return users

    def _validate(self, split, users: Sequence[int], items) -> float:
        from bench.metrics import metrics_from_ranks, ranks_from_scores

        histories = split.histories("valid")
        targets = split.targets("valid")
        scores = self._score_with(items, [histories[u] for u in users])
        return metrics_from_ranks(ranks_from_scores(scores, [targets[u] for u in users]), ks=(10,))["ndcg@10"]

    def _train_epoch(self, rows, items, optimizer, ctx: FitContext, label: str, train_model=None) -> dict[str, float]:
        """One pass over `rows`; `train_model` is the accelerate-prepared model (DDP under a
        multi-process launch), by default the bare model."""
        import torch
        from tqdm import tqdm

        from laser.batching import bucketed_batches
        from laser.model import cosine_scores

        train_model = train_model if train_model is not None else self.model
        acc = self._accelerator
        rank, world = (acc.process_index, acc.num_processes) if acc is not None else (0, 1)
        train_model.train()
        bs = self.cfg.batch_size
        total, balance_total, n = 0.0, 0.0, 0
        t0 = time.perf_counter()
        tokens = 0
        # torch's generator was seeded for this (stage, epoch), so the batch order is reproducible on resume
        lengths = [len(self.model.prompts.user_ids(h)) for h, _ in rows]
        batches = bucketed_batches(lengths, bs, self.cfg.length_buckets)
        if world > 1:  # every process the same number of steps, or DDP's all-reduce would wait forever
            batches = batches[rank : len(batches) // world * world : world]
        for index in tqdm(batches, desc=label, leave=False, disable=not ctx.progress or rank != 0, unit="batch"):
            ctx.rebalance_threads()
            batch = [rows[i] for i in index]
            users, balance, _ = train_model([h for h, _ in batch])
            scores = cosine_scores(users, items, self.cfg.tau)
            loss_iic = torch.nn.functional.cross_entropy(scores, torch.tensor([t for _, t in batch], device=scores.device))
            loss = loss_iic + self.cfg.balance_weight * balance
            if not torch.isfinite(loss):
                raise FloatingPointError(f"{label}: loss became {loss.item()}")
            optimizer.zero_grad(set_to_none=True)
            if acc is not None:
                acc.backward(loss)
            else:
                loss.backward()
            optimizer.step()
            total += loss_iic.item() * len(batch)
            balance_total += float(balance.detach()) * len(batch)
            n += len(batch)
            tokens += sum(lengths[i] for i in index)
        dt = time.perf_counter() - t0
        # per process: under a launch of W processes the epoch's throughput is W times these
        return {"loss": total / max(n, 1), "balance": balance_total / max(n, 1), "train_s": round(dt, 1), "examples_per_s": round(n / dt, 2), "tokens_per_s": round(tokens / dt, 1), "examples": n, "processes": world}

    def fit(self, split, ctx: FitContext, id_encoder=None) -> dict[str, Any]:
        import torch

        from laser.checkpoint import EpochCheckpoint, trainable_state

        self._accelerator = acc = self._make_accelerator()
        self.build(split, ctx, id_encoder)
        optimizer = torch.optim.Adam(self.model.trainable_parameters(), lr=self.cfg.lr, weight_decay=self.cfg.weight_decay)
        ckpt = EpochCheckpoint(ctx.workdir / "laser-checkpoint.pt")
        state = ckpt.load(self.model, optimizer) or {"stage": "stage1", "epoch": 0, "curve": [], "best": {}, "items": None}
        # DDP (multi-process) broadcasts the main process's weights here, so every process starts equal
        train_model, optimizer = acc.prepare(self.model, optimizer)
        valid_users = self._valid_subset(split, ctx.seed)
        timings: dict[str, float] = state.setdefault("timings", {"stage1_s": 0.0, "stage2_s": 0.0, "item_encoding_s": 0.0})
        n_epochs = {"stage1": self.cfg.stage1_epochs, "stage2": self.cfg.stage2_epochs}

        def encode_items():
            ctx.rebalance_threads()
            t = time.perf_counter()
            I = self.model.encode_items(split.n_items, self.cfg.eval_batch_size * 2, progress=ctx.progress)
            timings["item_encoding_s"] += time.perf_counter() - t
            return I

        for stage in STAGES:
            if STAGES.index(stage) < STAGES.index(state["stage"]):
                continue
            if stage == "stage2" and state["stage"] == "stage1":
                # continue from the best stage-1 weights, freeze its item matrix
                if state["best"].get("stage1"):
                    self.model.load_state_dict(state["best"]["stage1"]["weights"], strict=False)
                    state["items"] = state["best"]["stage1"]["items"]
                state.update(stage="stage2", epoch=0)
            while state["epoch"] < n_epochs[stage]:
                t_stage = time.perf_counter()
                epoch = state["epoch"]
                torch.manual_seed(zlib.crc32(f"{ctx.seed}-{stage}-{epoch}".encode()))
                if state["items"] is None:
                    state["items"] = encode_items()
                state["items"] = state["items"].to(self._device())
                rows = self.training_rows(split, ctx.seed, stage, epoch)
                info = self._train_epoch(rows, state["items"], optimizer, ctx, f"{stage} epoch {epoch}", train_model)
                if stage == "stage1":
                    state["items"] = encode_items()
                ctx.rebalance_threads()
                ndcg = self._validate(split, valid_users, state["items"])
                # epoch_s: the whole epoch (training, item re-encoding, validation); train_s: training only
                info["epoch_s"] = round(time.perf_counter() - t_stage, 1)
                entry = {"stage": stage, "epoch": len(state["curve"]), "stage_epoch": epoch, "valid_ndcg@10": ndcg, **info}
                state["curve"].append(entry)
                best = state["best"].get(stage)
                if best is None or ndcg > best["valid_ndcg@10"]:
                    state["best"][stage] = {"valid_ndcg@10": ndcg, "epoch": entry["epoch"], "weights": trainable_state(self.model), "items": state["items"]}
                state["epoch"] = epoch + 1
                timings[f"{stage}_s"] += time.perf_counter() - t_stage
                if acc.is_main_process:
                    ckpt.save(self.model, optimizer, state)
                acc.wait_for_everyone()
                if ctx.on_epoch:
                    ctx.on_epoch({k: v for k, v in entry.items() if k in ("stage", "stage_epoch", "valid_ndcg@10", "loss", "examples_per_s")})
            if stage == "stage1" and n_epochs["stage1"] == 0 and state["items"] is None:
                state["items"] = encode_items()  # no stage 1: stage 2 trains against the untrained model's I

        # the final model is the best validated epoch of either stage
        final = max(state["best"].values(), key=lambda b: b["valid_ndcg@10"])
        self.model.load_state_dict(final["weights"], strict=False)
        self.items = final["items"].to(self._device())
        self.analysis = self._expert_usage(split)
        return {
            "epochs": len(state["curve"]),
            "best_epoch": final["epoch"],
            "best_valid_ndcg@10_subset": final["valid_ndcg@10"],
            "valid_users_for_selection": len(valid_users),
            "curve": state["curve"],
            "timings": {k: round(v, 1) for k, v in timings.items()},
            "backbone": self.model.backbone.config.name_or_path or self.cfg.llm,
            "attention": self.attention,
        }

    # ------------------------------------------------------------------ scoring

    def _score_with(self, items, histories):
        import torch

        from laser.model import cosine_scores

        from laser.batching import sorted_batches

        self.model.eval()
        scores = torch.empty(len(histories), items.shape[0])
        lengths = [len(self.model.prompts.user_ids(h)) for h in histories]
        with torch.inference_mode():
            for batch in sorted_batches(lengths, self.cfg.eval_batch_size):
                users, _, _ = self.model.encode([histories[i] for i in batch])
                scores[torch.tensor(batch)] = cosine_scores(users, items, self.cfg.tau).cpu()
        return scores

    def score(self, histories):
        if self.model is None or self.items is None:
            raise RuntimeError("score() before fit()")
        return self._score_with(self.items, list(histories))

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

    def parameter_counts(self) -> ParameterCounts:
        """One definition for Laser and the LLM baselines, counted as peft's get_nb_trainable_parameters:
        numel split by requires_grad over the whole model (LLM decoder with any adapters, ID encoder,
        M-Former, suffix), plus what the causal LM holds outside the decoder (an untied LM head,
        frozen and unused), so `total` includes the LLM exactly as `Backbone.n_params` counts it."""
        counts = count_parameters(self.model)
        return ParameterCounts(counts.trainable, counts.total + self._params_outside_model, self.model.llm_side_parameters())
