"""RecBole ID baselines: RecBole's own model classes and Trainer, fed our saved split.

The split reaches RecBole as pre-split, pre-augmented benchmark files (`atomic.train.inter`,
`atomic.valid.inter`, `atomic.test.inter`): one row per (history, target) pair that we
generate from the saved split, so RecBole never re-sorts or re-splits anything (its own
augmentation sorts by timestamp, which would re-order ml-100k's tied timestamps). Training rows
are every prefix of a user's training sequence; validation rows predict the validation target
from the training sequence; test rows are written for RecBole's evaluator (the oracle test)
but our runner scores the test split itself through `score`.

Early stopping: RecBole's Trainer on validation NDCG@10 (full ranking), patience
`stopping_step`. The best epoch's weights are reloaded before scoring.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baselines.recbole.compat import load_recbole_checkpoint, recbole_context
from bench.configs import from_mapping
from bench.errors import UserError, did_you_mean
from bench.methods import FitContext, Method, ParameterCounts, count_parameters
from bench.data.export import sequential_split_rows
from bench.io import atomic_write_text
from bench.data.splits import split_dir

ATOMIC = "atomic"  # RecBole dataset name of the exported split


@dataclass(frozen=True)
class RecBoleSettings:
    """Harness-level training settings; `model` holds the model's own hyperparameters
    (keys checked against RecBole's defaults file for that model)."""

    epochs: int = 200
    stopping_step: int = 5
    train_batch_size: int = 512
    eval_batch_size: int = 1024
    learning_rate: float = 0.001
    max_seq_length: int = 50
    # None: every prefix of the training sequence is a row (RecBole's augmentation); N: only
    # each user's last N prefixes, a CPU budget cut that keeps the most recent behaviour.
    train_rows_per_user: int | None = None
    weight_decay: float = 0.0
    model: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("epochs", "train_batch_size", "eval_batch_size", "max_seq_length"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise UserError(f"RecBole setting {name} must be a positive integer, got {value!r}")
        if self.train_rows_per_user is not None and (not isinstance(self.train_rows_per_user, int) or self.train_rows_per_user <= 0):
            raise UserError(f"RecBole setting train_rows_per_user must be a positive integer or null, got {self.train_rows_per_user!r}")
        if not isinstance(self.stopping_step, int) or self.stopping_step < 1:
            raise UserError(f"RecBole setting stopping_step must be >= 1, got {self.stopping_step!r}")
        if not self.learning_rate > 0:
            raise UserError(f"RecBole setting learning_rate must be > 0, got {self.learning_rate!r}")


def model_defaults(model_name: str) -> dict[str, Any]:
    import importlib.util

    import yaml

    root = Path(importlib.util.find_spec("recbole").submodule_search_locations[0])
    return yaml.safe_load((root / "properties" / "model" / f"{model_name}.yaml").read_text()) or {}


# --------------------------------------------------------------------------- split export


def export_split(results: Path, split, max_seq_length: int, rows_per_user: int | None = None) -> Path:
    """Write the split as RecBole benchmark files; idempotent (same split + settings -> same files)."""
    d = split.dataset
    root = split_dir(results, split) / f"recbole-len{max_seq_length}-rows{rows_per_user or 'all'}"
    folder = root / ATOMIC
    done = folder / "DONE"
    if done.exists():
        return root
    tok = d.item_ids
    parts = sequential_split_rows(split, max_seq_length, rows_per_user)
    if len(parts["train"]) == 1:
        raise UserError(f"dataset {d.name!r}: no training rows for RecBole (every user's training sequence has a single item)")
    for part, lines in parts.items():
        atomic_write_text(folder / f"{ATOMIC}.{part}.inter", "".join(lines))
    genres = [" ".join(a.get("genres", a.get("category", "")).replace(",", " ").split()) for a in d.item_attributes[1:]]
    item_lines = ["item_id:token\tclass:token_seq\n"] + [f"{t}\t{g}\n" for t, g in zip(tok, genres)]
    atomic_write_text(folder / f"{ATOMIC}.item", "".join(item_lines))
    atomic_write_text(done, "")
    return root


def encoder_cache_path(results: Path, model_name: str, settings: RecBoleSettings, split_hash: str, seed: int) -> Path:
    return _cache_file(Path(results) / "cache", model_name, settings, split_hash, seed)


def _cache_file(cache_dir: Path, model_name: str, settings: RecBoleSettings, split_hash: str, seed: int) -> Path:
    from bench.configs import content_hash

    key = content_hash({"model": model_name, "settings": dataclasses.asdict(settings), "split": split_hash, "seed": seed})
    return Path(cache_dir) / "encoders" / f"{model_name}-{key}.pt"


# --------------------------------------------------------------------------- the method


class RecBoleMethod(Method):
    model_name: str = ""
    family = "ID-based"

    @classmethod
    def config_for_fraction(cls, config, scale: int):
        # an epoch is every training row of the fraction's users: 1/f times as many epochs, and
        # patience counted in those smaller epochs, give the full split's steps and wait
        settings = from_mapping(RecBoleSettings, config, f"method {cls.model_name}")
        return {**config, "stopping_step": settings.stopping_step * scale, "epochs": settings.epochs * scale}

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.settings = from_mapping(RecBoleSettings, config, f"method {self.model_name}")
        defaults = model_defaults(self.model_name)
        for key in self.settings.model:
            if key not in defaults:
                raise UserError(f"method {self.model_name}: unknown model key {key!r}{did_you_mean(key, defaults)}")
        self._model_defaults = defaults
        self.model = None
        self._rb_dataset = None
        self._index = None  # our item index -> RecBole item id

    def resolved_config(self) -> dict[str, Any]:
        # the model's hyperparameters as RecBole will use them: its defaults file under our
        # overrides (a RecBole upgrade that changes a default changes the run key); the fixed
        # parts of `_recbole_config` are code, covered by `version`
        return {**dataclasses.asdict(self.settings), "model": {**self._model_defaults, **self.settings.model}}

    # RecBole configuration shared by fit and load
    def _recbole_config(self, data_root: Path, workdir: Path, seed: int, n_items: int) -> dict[str, Any]:
        s = self.settings
        # RecBole's top-k cannot exceed the catalogue; only tiny fixture datasets hit this
        k = min(10, n_items)
        cfg = {
            "data_path": str(data_root),
            "benchmark_filename": ["train", "valid", "test"],
            "load_col": {"inter": ["user_id", "item_id_list", "item_id"], "item": ["item_id", "class"]},
            "USER_ID_FIELD": "user_id",
            "ITEM_ID_FIELD": "item_id",
            # without this alias RecBole gives history tokens their own id vocabulary
            "alias_of_item_id": ["item_id_list"],
            "TIME_FIELD": None,
            "MAX_ITEM_LIST_LENGTH": s.max_seq_length,
            "train_neg_sample_args": None,
            "eval_args": {"split": {"RS": [0.8, 0.1, 0.1]}, "order": "TO", "group_by": "user", "mode": "full"},
            "metrics": ["Recall", "NDCG"],
            "topk": [k],
            "valid_metric": f"NDCG@{k}",
            "epochs": s.epochs,
            "stopping_step": s.stopping_step,
            "train_batch_size": s.train_batch_size,
            "eval_batch_size": s.eval_batch_size,
            "learning_rate": s.learning_rate,
            "weight_decay": s.weight_decay,
            "checkpoint_dir": str(workdir / "saved"),
            "show_progress": False,
            "seed": seed,
            "reproducibility": True,
            # RecBole writes gpu_id into CUDA_VISIBLE_DEVICES (its default "0" would hide every
            # other GPU from the process once CUDA starts): hand it what is visible already.
            "gpu_id": _visible_gpus(),
            "use_gpu": False,  # RecBole reads it only to show GPU memory in its progress bars (off)
            "log_wandb": False,
            "state": "WARNING",
        }
        if self.model_name != "FDSA":
            # the .item file still gives every item an id, even one cut from all training rows
            cfg["load_col"] = {"inter": ["user_id", "item_id_list", "item_id"], "item": ["item_id"]}
        cfg.update(self.settings.model)
        return cfg

    def _build(self, data_root: Path, workdir: Path, seed: int, n_items: int):
        from recbole.config import Config
        from recbole.data import create_dataset, data_preparation
        from recbole.utils import get_model, init_seed

        config = Config(model=self.model_name, dataset=ATOMIC, config_dict=self._recbole_config(data_root, workdir, seed, n_items))
        # RecBole's Trainer moves each batch to config["device"] (cuda:0 whenever CUDA is up)
        # but builds the model where torch does, on the CPU: both go to this process's device
        config["device"] = _device()
        init_seed(seed, True)
        dataset = create_dataset(config)
        train, valid, test = data_preparation(config, dataset)
        init_seed(seed, True)
        model = get_model(self.model_name)(config, train.dataset).to(config["device"])
        return config, dataset, model, (train, valid, test)

    def _set_index(self, dataset, split) -> None:
        import torch

        rb = dataset.field2token_id["item_id"]
        self._index = torch.tensor([0] + [rb[tok] for tok in split.dataset.item_ids], dtype=torch.long)
        self._max_len = self.settings.max_seq_length

    def fit(self, split, ctx: FitContext) -> dict[str, Any]:
        data_root = export_split(ctx.results_root, split, self.settings.max_seq_length, self.settings.train_rows_per_user)
        with recbole_context(ctx.workdir):
            from recbole.trainer import Trainer  # imported inside the context: see compat.py

            config, dataset, model, (train, valid, test) = self._build(data_root, ctx.workdir, ctx.seed, split.n_items)
            trainer = Trainer(config, model)
            curve = []
            orig_valid = trainer._valid_epoch
            batch_loss = model.calculate_loss

            def calculate_loss(interaction):
                ctx.rebalance_threads()  # each batch first takes this run's current share of the cores
                return batch_loss(interaction)

            model.calculate_loss = calculate_loss

            def valid_epoch(valid_data, show_progress=False):
                score, result = orig_valid(valid_data, show_progress)
                curve.append({"epoch": len(curve), "valid_ndcg@10": float(score)})
                return score, result

            trainer._valid_epoch = valid_epoch
            # RecBole's own epoch logging is off (state WARNING, verbose=False): it would print
            # its colour-coded multi-line blocks into every run's output. One line per epoch
            # instead, after RecBole's early-stopping bookkeeping so patience is current.
            orig_train = trainer._train_epoch
            started = {}

            def train_epoch(*args, **kwargs):
                started["t"] = time.perf_counter()
                started["loss"] = loss = orig_train(*args, **kwargs)
                return loss

            trainer._train_epoch = train_epoch

            def after_validation(epoch_idx, score):
                if ctx.on_epoch:
                    loss = started.get("loss")
                    ctx.on_epoch({
                        "epoch": f"{epoch_idx + 1}/{self.settings.epochs}",
                        "loss": float(sum(loss) if isinstance(loss, tuple) else loss) if loss is not None else float("nan"),
                        "valid_ndcg@10": float(score),
                        "best": float(trainer.best_valid_score),
                        "patience": f"{trainer.cur_step}/{self.settings.stopping_step}",
                        "epoch_s": round(time.perf_counter() - started.get("t", time.perf_counter())),
                    })

            best, _ = trainer.fit(train, valid, verbose=False, saved=True, show_progress=False, callback_fn=after_validation)
            state = load_recbole_checkpoint(Path(trainer.saved_model_file))
            model.load_state_dict(state["state_dict"])
            model.load_other_parameter(state.get("other_parameter"))
            model.eval()
            self._oracle = (trainer, test)
        self.model, self._rb_dataset = model, dataset
        self._set_index(dataset, split)
        # every trained model doubles as a cached frozen encoder for Laser (same split + settings + seed)
        self.save(encoder_cache_path(ctx.results_root, self.model_name, self.settings, split.hash, ctx.seed), split)
        best_epoch = max(range(len(curve)), key=lambda e: curve[e]["valid_ndcg@10"]) if curve else None
        return {"epochs": len(curve), "best_epoch": best_epoch, "best_valid_ndcg@10": float(best), "curve": curve}

    def recbole_test_metrics(self) -> dict[str, float]:
        """RecBole's own evaluator on the test rows, for the oracle cross-check."""
        trainer, test = self._oracle
        with recbole_context(trainer.checkpoint_dir):
            result = trainer.evaluate(test, load_best_model=False, show_progress=False)
        return {k.lower(): float(v) for k, v in result.items()}

    def _interaction(self, histories: Sequence[Sequence[int]]):
        import torch
        from recbole.data.interaction import Interaction

        n = len(histories)
        seq = torch.zeros((n, self._max_len), dtype=torch.long)
        lengths = torch.zeros(n, dtype=torch.long)
        for r, h in enumerate(histories):
            h = list(h)[-self._max_len :]
            if not h:
                raise ValueError("every history needs at least one item")
            seq[r, : len(h)] = self._index[torch.tensor(h)]
            lengths[r] = len(h)
        return Interaction({"item_id_list": seq, "item_length": lengths, "user_id": torch.zeros(n, dtype=torch.long)})

    def score(self, histories: Sequence[Sequence[int]]):
        import torch

        if self.model is None:
            raise RuntimeError("score() before fit() or load()")
        device = next(self.model.parameters()).device
        index = self._index.to(device)
        out = []
        with torch.no_grad():
            for start in range(0, len(histories), self.settings.eval_batch_size):
                chunk = histories[start : start + self.settings.eval_batch_size]
                rb_scores = self.model.full_sort_predict(self._interaction(chunk).to(device)).view(len(chunk), -1)
                out.append(rb_scores[:, index].cpu())
        scores = torch.cat(out)
        scores[:, 0] = float("-inf")
        return scores

    def parameter_counts(self) -> ParameterCounts:
        return count_parameters(self.model)

    # ----------------------------------------------------------------- frozen encoder I/O

    def save(self, path: Path, split) -> None:
        """state_dict + settings, never a pickled module."""
        import torch

        from bench.io import atomic_torch_save

        blob = {"model_name": self.model_name, "settings": dataclasses.asdict(self.settings), "split_hash": split.hash, "state_dict": self.model.state_dict()}
        atomic_torch_save(blob, path)

    @property
    def item_index(self):
        """Our item index -> RecBole's item id (a LongTensor), once fitted or loaded."""
        return self._index

    def cache_path(self, cache_dir: Path, split_hash: str, seed: int) -> Path:
        """Where this model, trained on a split with a seed, is cached as a frozen encoder
        (Laser's ID encoder; `cache_dir` is FitContext.cache_dir)."""
        return _cache_file(cache_dir, self.model_name, self.settings, split_hash, seed)

    @classmethod
    def load(cls, path: Path, split, results_root: Path, workdir: Path):
        import torch

        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # truncated or foreign file
            raise UserError(f"{path}: corrupt encoder checkpoint ({type(exc).__name__}); delete it to retrain") from None
        if blob.get("split_hash") != split.hash:
            raise UserError(f"{path}: encoder was trained on split {blob.get('split_hash')}, not {split.hash}")
        method = METHOD_CLASSES[blob["model_name"]](blob["settings"])
        data_root = export_split(results_root, split, method.settings.max_seq_length, method.settings.train_rows_per_user)
        with recbole_context(workdir):
            _, dataset, model, _ = method._build(data_root, workdir, 0, split.n_items)
        model.load_state_dict(blob["state_dict"])
        model.eval()
        method.model, method._rb_dataset = model, dataset
        method._set_index(dataset, split)
        return method


def _device():
    """The current CUDA device when there is one (a multi-GPU launch has set it per process), else the CPU."""
    import torch

    return torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else torch.device("cpu")


def _visible_gpus() -> str:
    import os

    import torch

    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    return visible if visible is not None else ",".join(str(i) for i in range(torch.cuda.device_count()))


def _make(name: str) -> type[RecBoleMethod]:
    return type(name, (RecBoleMethod,), {"model_name": name, "__doc__": f"RecBole {name}, trained by RecBole's Trainer."})


METHOD_CLASSES = {n: _make(n) for n in ("SASRec", "BERT4Rec", "GRU4Rec", "Caser", "NARM", "STAMP", "NextItNet", "FDSA")}
SASRec = METHOD_CLASSES["SASRec"]
BERT4Rec = METHOD_CLASSES["BERT4Rec"]
GRU4Rec = METHOD_CLASSES["GRU4Rec"]
Caser = METHOD_CLASSES["Caser"]
NARM = METHOD_CLASSES["NARM"]
STAMP = METHOD_CLASSES["STAMP"]
NextItNet = METHOD_CLASSES["NextItNet"]
FDSA = METHOD_CLASSES["FDSA"]
