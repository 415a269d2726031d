"""The engine's training loop, validation and scoring: `LLMMethod`, the base of Laser
(laser/method.py) and the LLM baselines (baselines/peft/).

A method on top says what trains: `_make_model` builds the model (the engine's `SuffixModel`,
a peft-wrapped one, or Laser's prefix model), and may add collaborative inputs
(`_side_inputs`), work after building (`_after_build`), before training (`_before_training`,
Laser's M-Former pre-training) and analysis after it (`_analysis`).

The pipeline, as the released Laser code runs it:
1. (the method's `_before_training`: Laser pre-trains its M-Former)
2. LLM phase 1 (`phase1: item_gradient`): each row's user, its positive item and sampled
   negatives (candidates.py) all go through the model with gradient; cross-entropy of cos/tau
   over those candidates. After each epoch the full item matrix I is encoded (no gradient) to
   validate. `phase1: recformer` is our first reading instead (the RecFormer stage 1): train
   against I without item gradient, re-encoded after every epoch.
3. LLM phase 2: from the best phase-1 weights, I (encoded by them) is frozen; cross-entropy of
   cos/tau over all items.
Each phase has its own AdamW (weight decay) and schedule: linear warm-up, then cosine to
`min_lr`. Every epoch is validated; the final model is the best validated epoch of the two
phases (phase 2 wins only if strictly better).

Training rows (option `examples`): `all_prefixes` is one row per prefix of each user's training
sequence (the released code); `sample` draws `examples_per_user` random prefix ends per user
each epoch (seeded by seed, phase and epoch); `last` is each user's full training sequence
predicting its last training item. The text shows a row's last `history` items, a prefix
reads its own (`SuffixModel.side_history`).

Interrupted training resumes from the last finished epoch; every random draw is seeded per
(phase, epoch), so a resumed run equals an uninterrupted one.

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

PHASES = ("phase1", "phase2")


class LLMMethod(Method):
    """An LLM tuned through the engine; subclasses build the model (`_make_model`)."""

    distributed = True  # each process trains its share of every epoch's batches
    llm_backbone = True
    keeps_weights = True
    probes = ("text_shuffled", "text_blank")  # Laser adds its ID probes

    def __init__(self, config: Mapping[str, Any] | None = None, backbone=None) -> None:
        self.cfg = self._resolve(config)
        self._injected_backbone = backbone  # tests pass a tiny random Llama here
        self.model = None
        self.items = None
        self.analysis: dict[str, Any] = {}
        self._accelerator = None
        self._progress = False

    @classmethod
    def config_with_llm(cls, config, llm: str):
        return {**config, "llm": llm}

    @classmethod
    def config_for_fraction(cls, config, scale: int):
        cfg = cls._resolve(config)
        if cfg.examples == "sample":  # an epoch draws examples_per_user prefixes of each training user
            return {**config, "examples_per_user": cfg.examples_per_user * scale}
        return {**config, "phase1_epochs": cfg.phase1_epochs * scale, "phase2_epochs": cfg.phase2_epochs * scale}

    @classmethod
    def _resolve(cls, config: Mapping[str, Any] | None):
        """The method's config dataclass from its mapping (profile, then explicit keys)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ hooks

    def _side_inputs(self, split, ctx: FitContext, given=None):
        """What the model reads besides the text (Laser: the frozen ID encoder); None."""
        return None

    def _make_model(self, backbone, prompts, side_inputs):
        raise NotImplementedError

    def _after_build(self) -> None:
        """After the model is built, before it moves to the device."""

    def _before_training(self, split, ctx: FitContext) -> dict[str, Any]:
        """Work before LLM phase 1 on a fresh start (not on resume); its facts go in the record."""
        return {}

    def _analysis(self, split) -> dict[str, Any]:
        return {}

    @property
    def aux_weight(self) -> float:
        """Weight of the model's auxiliary (balance) loss; the model returns 0 without a prefix."""
        return 0.0

    def preflight(self) -> None:
        from bench.llm.backbone import check_llm

        if self._injected_backbone is None:
            check_llm(self.cfg.llm, self.cfg.trust_remote_code, self.cfg.llm_layers, self.cfg.where)

    # ------------------------------------------------------------------ building

    def device(self):
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
        # mixed precision stays ours (bf16 autocast inside the model); placement too (`device`)
        return Accelerator(cpu=cpu, device_placement=False, kwargs_handlers=[ddp])

    def build(self, split, ctx: FitContext, side_inputs=None):
        from bench.llm.backbone import backbone_identity, keep_first_layers, load_backbone, set_attention
        from bench.llm.prompt import PromptBuilder

        if self._injected_backbone is not None:
            backbone = self._injected_backbone
        else:
            from bench.llm.model import bf16_supported

            dtype = self.cfg.dtype if self.cfg.dtype != "auto" else ("bf16" if bf16_supported() else "fp32")
            backbone = load_backbone(self.cfg.llm, dtype, self.cfg.trust_remote_code)
        backbone = keep_first_layers(backbone, self.cfg.llm_layers, self.cfg.where)
        self.attention = set_attention(backbone.decoder, self.cfg.attention, self.device().type)
        self.backbone_identity = backbone_identity(backbone)  # before any method wraps or tunes it
        self._progress = ctx.progress  # the probes re-encode items after fit, with no context of their own
        side_inputs = self._side_inputs(split, ctx, side_inputs)
        prompts = PromptBuilder(backbone.tokenizer, split.dataset.item_text, self.cfg.template, self.cfg.history)
        self.backbone_params = backbone.n_params
        # what the loaded causal LM holds outside the decoder (an untied LM head): counted, never used
        self._params_outside_model = backbone.n_params - sum(p.numel() for p in backbone.decoder.parameters())
        self.model = self._make_model(backbone, prompts, side_inputs)
        # `auto` resolved on this host: records of one key can come from hosts with and without bf16
        self.precision = dict(self.model.precision)
        self._after_build()
        self.model.to(self.device())
        return self.model

    # ------------------------------------------------------------------ training

    def training_rows(self, split, seed: int, phase: str, epoch: int) -> list[tuple[tuple[int, ...], int]]:
        rng = random.Random(f"{seed}-{phase}-{epoch}")
        rows = []
        H = max(self.cfg.history, self.model.side_history if self.model is not None else 0)
        for seq in split.training_sequences():  # the training users' only (few-shot splits)
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

    def _validate(self, split, users: Sequence[int], items, progress: bool = False) -> float:
        from bench.metrics import metrics_from_ranks, ranks_from_scores

        histories = split.histories("valid")
        targets = split.targets("valid")
        scores = self._score_with(items, [histories[u] for u in users], progress=progress)
        return metrics_from_ranks(ranks_from_scores(scores, [targets[u] for u in users]), ks=(10,))["ndcg@10"]

    def train_epoch(self, rows, items, optimizer, schedule, ctx: FitContext, label: str, train_model=None, rng=None) -> dict[str, float]:
        """One pass over `rows`: against the frozen matrix `items`, or (items None) phase 1's
        sampled candidates with gradient through them. `train_model` is the accelerate-prepared
        model (DDP under a multi-process launch), by default the bare model."""
        import math

        import torch
        from torch.profiler import record_function  # named ranges: `bench perf --breakdown` reads them

        from bench import progress
        from bench.llm.batching import bucketed_batches
        from bench.llm.model import cosine_scores

        train_model = train_model if train_model is not None else self.model
        acc = self._accelerator
        rank, world = (acc.process_index, acc.num_processes) if acc is not None else (0, 1)
        train_model.train()
        bs = self.cfg.batch_size
        total, balance_total, reference, n = 0.0, 0.0, 0.0, 0
        t0 = time.perf_counter()
        tokens, padded = 0, 0  # real prompt tokens; positions computed on padding (rows pad to their batch's longest)
        # torch's generator was seeded for this (phase, epoch), so the batch order is reproducible on resume
        lengths = [len(self.model.prompts.user_ids(h)) for h, _ in rows]
        batches = bucketed_batches(lengths, bs, self.cfg.length_buckets)
        if world > 1:  # every process the same number of steps, or DDP's all-reduce would wait forever
            batches = batches[rank : len(batches) // world * world : world]
        for index in progress.bar(batches, desc=label, unit="batch", disable=not ctx.progress or rank != 0):
            ctx.rebalance_threads()
            batch = [rows[i] for i in index]
            if items is None:
                loss_iic, balance, cand_tokens, cand_padded, chance = self._phase1_loss(train_model, batch, rng)
                tokens, padded = tokens + cand_tokens, padded + cand_padded
            else:
                users, balance, _ = train_model([h for h, _ in batch])
                loss_iic = torch.nn.functional.cross_entropy(cosine_scores(users, items, self.cfg.tau), torch.tensor([t for _, t in batch], device=users.device))
                chance = math.log(self.n_items) * len(batch)
            reference += chance
            loss = loss_iic + self.aux_weight * balance
            if not torch.isfinite(loss):
                raise FloatingPointError(f"{label}: loss became {loss.item()}")
            optimizer.zero_grad(set_to_none=True)
            with record_function("backward"):
                if acc is not None:
                    acc.backward(loss)
                else:
                    loss.backward()
            with record_function("optimizer"):
                optimizer.step()
                schedule.step()
            total += loss_iic.item() * len(batch)
            balance_total += float(balance.detach()) * len(batch)
            n += len(batch)
            batch_lengths = [lengths[i] for i in index]
            tokens += sum(batch_lengths)
            padded += _padding(batch_lengths)
        dt = time.perf_counter() - t0
        # per process: under a launch of W processes the epoch's throughput is W times these
        return {
            "loss": total / max(n, 1), "loss_uniform": reference / max(n, 1), "balance": balance_total / max(n, 1), "lr_end": schedule.get_last_lr()[0],
            "train_s": round(dt, 1), "examples_per_s": round(n / dt, 2), "tokens_per_s": round(tokens / dt, 1), "examples": n, "processes": world,
            "pad_share": round(padded / max(tokens + padded, 1), 4),
        }

    def _phase1_loss(self, train_model, batch, rng):
        """-> (cross-entropy over each row's candidates, balance loss, candidate tokens, positions
        computed on the candidates' padding, sum of ln(candidates) over the rows: the loss of a
        uniform guess)."""
        import torch
        from torch.nn.functional import cross_entropy, normalize
        from torch.profiler import record_function

        from bench.llm.candidates import candidate_batch

        users, balance, _ = train_model([h for h, _ in batch])
        with record_function("candidates"):
            cands, allowed, target = candidate_batch([t for _, t in batch], self.n_items, self.cfg.negatives, self.cfg.shared_negatives, self.cfg.in_batch_negatives, rng)
        # the bare model: DDP's reducer sees one forward per step, and the items' gradients reach
        # the same parameters through the one backward
        items, item_balance, _ = self.model([[c] for c in cands])
        scores = normalize(users, dim=-1) @ normalize(items, dim=-1).T / self.cfg.tau
        scores = scores.masked_fill(~allowed.to(scores.device), float("-inf"))
        loss = cross_entropy(scores, target.to(scores.device))
        lengths = [len(self.model.prompts.item_ids(c)) for c in cands]
        return loss, (balance + item_balance) / 2, sum(lengths), _padding(lengths), float(allowed.sum(1).float().log().sum())

    def phase_optimizer(self, steps_per_epoch: int, n_epochs: int):
        import torch
        from transformers import get_cosine_with_min_lr_schedule_with_warmup

        optimizer = torch.optim.AdamW(self.model.trainable_parameters(), lr=self.cfg.lr, weight_decay=self.cfg.weight_decay)
        total = max(steps_per_epoch * n_epochs, 1)
        schedule = get_cosine_with_min_lr_schedule_with_warmup(optimizer, min(self.cfg.warmup_steps, total), total, min_lr=self.cfg.min_lr)
        return optimizer, schedule

    def fit(self, split, ctx: FitContext, side_inputs=None) -> dict[str, Any]:
        import math

        import torch

        from bench.data.splits import train_item_counts
        from bench.llm.batching import count_bucketed_batches
        from bench.llm.checkpoint import EpochCheckpoint, trainable_state
        from bench.llm.diagnostics import matrix_stats, mostpop_cross_entropy

        self._accelerator = acc = self._make_accelerator()
        self.build(split, ctx, side_inputs)
        self.n_items = split.n_items
        ckpt = EpochCheckpoint(ctx.workdir)
        loaded = ckpt.load(self.model)  # a checkpoint's weights supersede pre-training's
        if loaded is None:
            state = {"phase": "phase1", "epoch": 0, "curve": [], "best": {}, "items": None, "examples_seen": 0, "pretrain": self._before_training(split, ctx)}
            optimizer_state = None
        else:
            state, optimizer_state = loaded
        # wall time of the work kept from the processes this run resumed from (up to their last
        # checkpoint), so a resumed run's fit time is the whole run's, not its last process's
        t_process, earlier_s = time.perf_counter(), state.get("fit_wall_s", 0.0)
        # DDP (multi-process) broadcasts the main process's weights here, so every process starts equal
        train_model = acc.prepare_model(self.model)
        valid_users = self._valid_subset(split, ctx.seed)
        timings: dict[str, float] = state.setdefault("timings", {"phase1_s": 0.0, "phase2_s": 0.0, "item_encoding_s": 0.0})
        n_epochs = {"phase1": self.cfg.phase1_epochs, "phase2": self.cfg.phase2_epochs}
        world = acc.num_processes
        # one epoch's rows: every epoch of either phase has as many, and their targets give MostPop's CE
        probe = self.training_rows(split, ctx.seed, "phase2", 0)
        steps = count_bucketed_batches(len(probe), self.cfg.batch_size, self.cfg.length_buckets) // world
        reference = {"ln_items": round(math.log(split.n_items), 4), "mostpop_ce": mostpop_cross_entropy(train_item_counts(split), [t for _, t in probe])}

        def encode_items():
            ctx.rebalance_threads()
            t = time.perf_counter()
            I = self.model.encode_items(split.n_items, self.cfg.eval_batch_size * 2, progress=ctx.progress)
            timings["item_encoding_s"] += time.perf_counter() - t
            state["matrix"] = matrix_stats(I)
            return I

        def record(entry):
            state["curve"].append(entry)
            if ctx.on_epoch:
                ctx.on_epoch({k: v for k, v in entry.items() if k in ("phase", "phase_epoch", "valid_ndcg@10", "loss", "loss_uniform", "mean_cosine", "examples_per_s")})

        if self.cfg.validate_init and not state["curve"]:
            state["items"] = encode_items()
            record({"phase": "init", "epoch": -1, "examples_seen": 0, "valid_ndcg@10": self._validate(split, valid_users, state["items"], ctx.progress), **state["matrix"]})

        for phase in PHASES:
            if PHASES.index(phase) < PHASES.index(state["phase"]):
                continue
            if phase == "phase2" and state["phase"] == "phase1":
                # continue from the best phase-1 weights, freeze the item matrix they encoded
                if state["best"].get("phase1"):
                    self.model.load_state_dict(state["best"]["phase1"]["weights"], strict=False)
                    state["items"] = state["best"]["phase1"]["items"]
                    state["matrix"] = matrix_stats(state["items"])  # phase 2's diagnostics describe the matrix it trains against
                else:  # no phase-1 epoch: phase 2's matrix is (or will be) encoded by the weights as they are now
                    state["items_weights"] = trainable_state(self.model)
                state.update(phase="phase2", epoch=0)
            if n_epochs[phase] == 0:
                continue
            optimizer, schedule = self.phase_optimizer(steps, n_epochs[phase])
            optimizer = acc.prepare_optimizer(optimizer, device_placement=False)
            if optimizer_state is not None and state["epoch"] > 0:  # resuming inside this phase
                optimizer.load_state_dict(optimizer_state)
                schedule.load_state_dict(state["schedule"])
            item_gradient = phase == "phase1" and self.cfg.phase1 == "item_gradient"
            while state["epoch"] < n_epochs[phase]:
                t_phase = time.perf_counter()
                epoch = state["epoch"]
                torch.manual_seed(zlib.crc32(f"{ctx.seed}-{phase}-{epoch}".encode()))
                if state["items"] is None and not item_gradient:
                    state["items"] = encode_items()
                frozen = None if item_gradient else state["items"].to(self.device())
                rows = self.training_rows(split, ctx.seed, phase, epoch)
                rng = random.Random(f"{ctx.seed}-{phase}-{epoch}-negatives")
                info = self.train_epoch(rows, frozen, optimizer, schedule, ctx, f"{phase} epoch {epoch}", train_model, rng)
                if phase == "phase1":
                    state["items"] = encode_items()
                ctx.rebalance_threads()
                ndcg = self._validate(split, valid_users, state["items"].to(self.device()), ctx.progress)
                state["examples_seen"] += info["examples"] * world
                # epoch_s: the whole epoch (training, item re-encoding, validation); train_s: training only
                info["epoch_s"] = round(time.perf_counter() - t_phase, 1)
                entry = {"phase": phase, "epoch": len(state["curve"]), "phase_epoch": epoch, "examples_seen": state["examples_seen"], "valid_ndcg@10": ndcg, **info, **state.get("matrix", {})}
                record(entry)
                best = state["best"].get(phase)
                if best is None or ndcg > best["valid_ndcg@10"]:
                    state["best"][phase] = {"valid_ndcg@10": ndcg, "epoch": entry["epoch"], "weights": trainable_state(self.model), "items": state["items"]}
                state["epoch"] = epoch + 1
                state["schedule"] = schedule.state_dict()
                timings[f"{phase}_s"] += time.perf_counter() - t_phase
                state["fit_wall_s"] = earlier_s + time.perf_counter() - t_process
                if acc.is_main_process:
                    ckpt.save(self.model, optimizer, state)
                acc.wait_for_everyone()
            if phase == "phase1" and state["items"] is None:
                state["items"] = encode_items()  # no phase 1: phase 2 trains against the untrained model's I

        # the final model is the best validated epoch of either phase
        final_phase = max(state["best"], key=lambda p: state["best"][p]["valid_ndcg@10"])
        final = state["best"][final_phase]
        self.model.load_state_dict(final["weights"], strict=False)
        self.items = final["items"].to(self.device())
        # the weights that encoded the final item matrix: phase 2 trains against phase 1's
        if final_phase == "phase1":
            item_weights = None  # the same weights
        else:
            item_weights = state["best"]["phase1"]["weights"] if "phase1" in state["best"] else state["items_weights"]
        self._kept = {"weights": final["weights"], "item_weights": item_weights}
        self.analysis = self._analysis(split)
        return {
            "epochs": sum(1 for e in state["curve"] if e["phase"] != "init"),
            "best_epoch": final["epoch"],
            "best_valid_ndcg@10_subset": final["valid_ndcg@10"],
            "valid_users_for_selection": len(valid_users),
            "curve": state["curve"],
            "pretrain": state.get("pretrain", {}),
            "loss_reference": reference,
            "timings": {k: round(v, 1) for k, v in timings.items()},
            "fit_s_earlier_processes": round(earlier_s, 1),
            "backbone": self.backbone_identity["name"],  # portable: the folder's name, not its path
            "backbone_hash": self.backbone_identity["hash"],  # config and weights
            "attention": self.attention,
            "precision": self.precision,
            **({"checkpoint_notes": ckpt.notes} if ckpt.notes else {}),
        }

    # ------------------------------------------------------------------ kept weights and probes

    def kept_weights(self) -> dict[str, Any]:
        """The kept epoch's trainable weights, and (None: the same) the weights that encoded
        its item matrix: phase 2 trains the user side against the matrix phase 1 encoded."""
        if getattr(self, "_kept", None) is None:
            raise RuntimeError("kept_weights() before fit()")
        return dict(self._kept)

    def restore(self, split, ctx: FitContext, kept: dict[str, Any], side_inputs=None) -> None:
        """Build the model (the frozen parts from their folders and caches), load the kept
        weights and re-encode the item matrix as the finished run had it."""
        from bench.errors import UserError

        self.build(split, ctx, side_inputs)
        self.n_items = split.n_items
        trainable = {n for n, p in self.model.named_parameters() if p.requires_grad}
        for part in ("weights", "item_weights"):
            if kept.get(part) is not None and set(kept[part]) != trainable:
                raise UserError(f"kept {part} do not fit this {type(self).__name__} model (another config or code version): retrain the run")
        self._kept = {"weights": kept["weights"], "item_weights": kept.get("item_weights")}
        self.model.load_state_dict(self._kept["weights"], strict=False)
        self.items = self._encode_kept_items(split.n_items, ctx.progress)

    def _encode_kept_items(self, n_items: int, progress: bool = False):
        kept = self._kept
        if kept["item_weights"] is not None:
            self.model.load_state_dict(kept["item_weights"], strict=False)
        try:
            matrix = self.model.encode_items(n_items, self.cfg.eval_batch_size * 2, progress=progress)
        finally:
            if kept["item_weights"] is not None:
                self.model.load_state_dict(kept["weights"], strict=False)
        return matrix.to(self.device())

    def _probe_changes(self, name: str, split, seed: int):
        """-> (change while the item matrix is encoded, change while users are scored): context
        manager factories, None where that side keeps its real input."""
        from bench.llm.probes import derangement, patched

        prompts = self.model.prompts
        if name == "text_shuffled":  # item -> title map permuted, in history and item prompts alike
            order = derangement(len(prompts.items) - 1, seed, name)
            shuffled = [[]] + [prompts.items[1 + j] for j in order]
            change = lambda: patched(prompts, items=shuffled)  # noqa: E731
            return change, change
        if name == "text_blank":  # user prompts keep no history titles; items as they were
            return None, lambda: patched(prompts, blank_history=True)
        raise ValueError(f"{type(self).__name__} has no probe {name!r}")

    def probed(self, name: str, split, seed: int):
        from contextlib import contextmanager, nullcontext

        from bench.errors import unknown

        if name not in self.probes:
            raise unknown(f"{type(self).__name__} probe", name, self.probes)
        if self.model is None or self.items is None:
            raise RuntimeError("probed() before fit() or restore()")

        @contextmanager
        def scope():
            item_change, user_change = self._probe_changes(name, split, seed)
            items = self.items
            try:
                if item_change is not None:
                    with item_change():
                        self.items = self._encode_kept_items(split.n_items, self._progress)
                with user_change() if user_change is not None else nullcontext():
                    yield
            finally:
                self.items = items

        return scope()

    # ------------------------------------------------------------------ scoring

    def _score_with(self, items, histories, progress: bool = False):
        import torch

        from bench import progress as bars
        from bench.llm.batching import sorted_batches
        from bench.llm.model import cosine_scores

        self.model.eval()
        scores = torch.empty(len(histories), items.shape[0])
        lengths = [len(self.model.prompts.user_ids(h)) for h in histories]
        with torch.inference_mode():
            for batch in bars.bar(sorted_batches(lengths, self.cfg.eval_batch_size), desc="validation", unit="batch", disable=not progress):
                users, _, _ = self.model.encode([histories[i] for i in batch])
                scores[torch.tensor(batch)] = cosine_scores(users, items, self.cfg.tau).cpu()
        return scores

    def score(self, histories):
        if self.model is None or self.items is None:
            raise RuntimeError("score() before fit()")
        return self._score_with(self.items, list(histories))

    def parameter_counts(self) -> ParameterCounts:
        """One definition for every method on the engine, counted as peft's get_nb_trainable_parameters:
        numel split by requires_grad over the whole model (LLM decoder with any adapters, ID encoder,
        M-Former, suffix), plus what the causal LM holds outside the decoder (an untied LM head,
        frozen and unused), so `total` includes the LLM exactly as `Backbone.n_params` counts it."""
        counts = count_parameters(self.model)
        return ParameterCounts(counts.trainable, counts.total + self._params_outside_model, self.model.llm_side_parameters())


def _padding(lengths: Sequence[int]) -> int:
    """Positions a right-padded batch of these prompt lengths computes beyond its rows' own."""
    return len(lengths) * max(lengths, default=0) - sum(lengths)
