"""Runs: prepare the shared split, train each method, evaluate with the one evaluator, store.

Each run is keyed by a hash of (method, its resolved config, the method class's `version`,
split hash, seed, RUN_FORMAT); a finished record is never recomputed unless forced, a failed
one is retried. The resolved config, not the config as written, so that a changed profile or
default is a new run rather than a silently reused old one; `current_key` recomputes a stored
record's key with today's code, and a record whose key differs is stale. A per-run lock file
keeps two `bench run` processes on the same results folder from doing (or writing) the same run.
"""

from __future__ import annotations

import dataclasses
import os
import time
import traceback
from collections import Counter
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from bench.configs import content_hash
from bench.errors import UserError
from bench.locks import run_lock
from bench.metrics import metrics_from_ranks, ranks_from_scores
from bench.results import find_weights, load_weights, read_record, record_path, save_weights, weights_path, write_record
from bench.data.splits import Split, SplitSettings, leave_one_out, load_saved_split, save_split
from bench.suites import RunSpec

RUN_FORMAT = 2  # 2: keys hash the resolved config and the method version (1: the config as written)


def prepare_split(dataset: str, results: Path, settings: dict | None = None) -> Split:
    from bench.configs import from_mapping
    from bench.data.datasets import load_dataset

    split_settings = from_mapping(SplitSettings, settings, "split settings")
    data = load_dataset(dataset, k_core=split_settings.k_core, results=results)
    split = leave_one_out(data, split_settings)
    save_split(results, split)
    return load_saved_split(results, split)


def method_key(name: str, method, split_hash: str, seed: int) -> str:
    """The run key of registered method `name`, built as `method`, on a split and seed."""
    return content_hash(
        {"method": name, "config": method.resolved_config(), "version": type(method).version, "split": split_hash, "seed": seed, "format": RUN_FORMAT}
    )


def run_key(spec: RunSpec, split: Split, method=None) -> str:
    """`method`: the spec's method already built (building one only resolves its config)."""
    from bench.methods import METHODS

    if method is None:
        method = METHODS.get(spec.method)(spec.config)
    return method_key(spec.method, method, split.hash, spec.seed)


def current_key(record: dict[str, Any]) -> str | None:
    """The key today's code gives the run a record describes (its method, config as written,
    split and seed); None when that method or config no longer builds."""
    from bench.methods import METHODS

    try:
        method = METHODS.get(record.get("method"))(record.get("config"))
    except UserError:
        return None
    return method_key(record["method"], method, record.get("split_hash"), record.get("seed"))


def is_current(record: dict[str, Any]) -> bool:
    """False for a stale record: its config or its method's code changed since it ran."""
    return is_run_of(record, record.get("config"))


def is_run_of(record: dict[str, Any], config: dict[str, Any] | None) -> bool:
    """Whether `config` makes the record's run today: the key is equal, whatever config was written
    when it ran (a `--set` value that has since become the default)."""
    return record.get("key") == current_key({**record, "config": config})


def is_current_main_run(record: dict[str, Any]) -> bool:
    """A finished, current record of a suite run, not of an ablation variant nor on a few-shot split."""
    from bench.results import is_main_run

    return record.get("status") == "ok" and is_main_run(record) and is_current(record)


def kept_finder(results: Path, dataset: str, split: Split, seed: int):
    """FitContext.find_kept for runs on `split` and `seed`: the kept weights of another run,
    found by the key today's code gives it."""

    def find(name: str, config) -> dict[str, Any]:
        from bench.methods import METHODS

        method = METHODS.get(name)(config)
        key = method_key(name, method, split.hash, seed)
        path = find_weights(results, dataset, key)
        if path is None:
            finished = any(Path(results, "runs").glob(f"*/*-{key}.json"))
            how = f"it finished before runs kept their weights: rerun it (bench run --methods {name} --seeds {seed} --force)" if finished else f"run it first (bench run --methods {name} --seeds {seed})"
            raise UserError(f"no kept weights of {name} (key {key}) on {dataset} seed {seed}: {how}")
        return load_weights(path)

    return find


def seed_everything(seed: int) -> None:
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def evaluate(method, split: Split, stage: str, batch_size: int = 256, between=None, progress: bool = False, desc: str | None = None) -> tuple[list[int], dict[str, float]]:
    """Full-ranking metrics of `stage`; `between()` runs before each chunk of users."""
    import numpy as np

    from bench import progress as bars

    histories, targets = split.histories(stage), split.targets(stage)
    ranks = []
    with bars.bar(desc=desc or f"{stage} evaluation", total=len(histories), unit="user", disable=not progress) as bar:
        for start in range(0, len(histories), batch_size):
            if between is not None:
                between()
            scores = method.score(histories[start : start + batch_size])
            if scores.shape != (len(histories[start : start + batch_size]), split.n_items + 1):
                raise RuntimeError(f"score() returned shape {tuple(scores.shape)}, expected [B, {split.n_items + 1}]")
            if not bool(scores[:, 1:].isfinite().all()):
                raise FloatingPointError("scores contain NaN or inf")
            ranks.append(ranks_from_scores(scores, targets[start : start + batch_size]))
            bar.update(len(scores))
    all_ranks = np.concatenate(ranks)
    return all_ranks.tolist(), metrics_from_ranks(all_ranks)


def execute(
    spec: RunSpec, split: Split, results: Path, threads: int = 1, progress: bool = True, share_cores: int | None = None, fixed: bool = False,
) -> dict[str, Any]:
    """Train and evaluate one run; the returned record says `ok` or `failed` with a reason.
    `share_cores`: start with `threads`, then share that many cores with the other runs active
    in `results` (bench/threads.py); with `fixed` (an explicit --threads), keep `threads` and
    leave those cores to this run; None keeps `threads` fixed and unannounced (a cluster or a
    distributed launch: other machines' cores). A method that keeps weights
    writes them beside the records (`weights/`), and its attribution probes run
    after the final evaluation (`run_probes`)."""
    import torch

    from bench import progress as bars
    from bench import provenance
    from bench.methods import METHODS, FitContext
    from bench.threads import CoreShare

    probe = METHODS.get(spec.method)(spec.config)  # the config as resolved; the trained one is built below, after seeding
    key = run_key(spec, split, probe)
    torch.set_num_threads(threads)
    record: dict[str, Any] = {
        "format": RUN_FORMAT,
        "key": key,
        "name": spec.name,
        "method": spec.method,
        "dataset": spec.dataset,
        "seed": spec.seed,
        "config": spec.config,
        "resolved_config": probe.resolved_config(),
        "method_version": type(probe).version,
        "tags": spec.tags,
        "split_hash": split.hash,
        "data_hash": split.dataset.content_hash,
        "split_settings": dataclasses.asdict(split.settings),
        "protocol": "leave-one-out by time, full ranking over all items, history not excluded, ties against the target",
        "n_users": split.n_users,
        "n_train_users": split.n_train_users,  # the users methods fit on: fewer than n_users under a few-shot split
        "n_items": split.n_items,
        "versions": provenance.versions(),
        "git_commit": provenance.git_commit(),
        "host": provenance.host(),
        "threads": threads,
        "started": provenance.now(),
    }

    label = run_label(spec)

    def on_epoch(info: dict[str, Any]) -> None:
        if progress:
            shown = " ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in info.items())
            bars.write(f"  [{label}] {shown}")

    t0 = time.perf_counter()
    memory = provenance.PeakMemory()
    share = CoreShare(results, key, share_cores, fixed_threads=threads if fixed else None) if share_cores else None
    rebalance = share.rebalance if share and not fixed else None
    try:
        with memory, share or nullcontext(), bars.labelled(label):
            seed_everything(spec.seed)
            method = METHODS.get(spec.method)(spec.config)
            record["family"] = method.family
            record["uses_collaborative_ids"] = method.uses_collaborative_ids
            workdir = Path(results) / "work" / key  # checkpoints, RecBole scratch, tensorboard
            ctx = FitContext(
                workdir=workdir, seed=spec.seed, results_root=Path(results), threads=threads, progress=progress, on_epoch=on_epoch, rebalance=rebalance,
                find_kept=kept_finder(results, spec.dataset, split, spec.seed),
            )
            record["training"] = method.fit(split, ctx)
            t_fit = time.perf_counter()
            valid_ranks, valid_metrics = evaluate(method, split, "valid", between=rebalance, progress=progress)
            test_ranks, test_metrics = evaluate(method, split, "test", between=rebalance, progress=progress)
            t_eval = time.perf_counter()
            counts = method.parameter_counts()
            record["analysis"] = getattr(method, "analysis", None) or {}
            if method.keeps_weights:
                path = weights_path(results, spec.dataset, spec.name, key)
                record["weights"] = {"file": path.relative_to(results).as_posix(), **save_weights(path, method.kept_weights())}
            t_probe = time.perf_counter()
            if method.probes:
                record["probes"] = _probes(method, split, spec, rebalance, on_epoch, progress)
            probe_s = time.perf_counter() - t_probe
        record.update(
            status="ok",
            metrics={"valid": valid_metrics, "test": test_metrics},
            ranks={"valid": valid_ranks, "test": test_ranks},
            parameters={
                "trainable": counts.trainable,
                "total": counts.total,
                "trainable_percent": counts.trainable_percent,
                "llm_side_trainable": counts.llm_side_trainable,
            },
            timings=_timings(t0, t_fit, t_eval, record["training"]),
        )
        if record.get("probes"):
            record["timings"]["probe_s"] = round(probe_s, 2)
    except UserError:
        raise
    except Exception as exc:  # a failed run is recorded and the suite goes on
        record.update(status="failed", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc(limit=8), timings={"total_s": round(time.perf_counter() - t0, 2)})
    record["memory"] = memory.report()
    if share and not fixed:
        record["threads_max"] = share.max_threads  # `threads` at the start, up to this as other runs ended
    record["finished"] = provenance.now()
    return record


def run_probes(method, split: Split, seed: int, names: Sequence[str] | None = None, between=None, log=None, progress: bool = False) -> dict[str, Any]:
    """{probe: {metrics, ranks, seconds}} on the test users, for `names` (default: all the
    method declares in `probes`), each scored by `evaluate` inside `method.probed(name)`.
    Here, beside the evaluator, so a probe is scored exactly as its run was (bench/probes.py,
    `bench probe`, calls it on restored runs)."""
    out: dict[str, Any] = {}
    for name in names if names is not None else method.probes:
        t0 = time.perf_counter()
        with method.probed(name, split, seed):
            ranks, metrics = evaluate(method, split, "test", between=between, progress=progress, desc=f"probe {name}")
        out[name] = {"metrics": metrics, "ranks": ranks, "seconds": round(time.perf_counter() - t0, 1)}
        if log is not None:
            log(f"probe {name}: ndcg@10={metrics['ndcg@10']:.4f} recall@10={metrics['recall@10']:.4f} mrr={metrics['mrr']:.4f} ({out[name]['seconds']:.0f}s)")
    return out


def _probes(method, split: Split, spec: RunSpec, between, on_epoch, progress: bool = False) -> dict[str, Any]:
    """The run's probes; a probe that fails is recorded as such and the run keeps its result."""
    try:
        return run_probes(method, split, spec.seed, between=between, log=lambda line: on_epoch({"note": line}), progress=progress)
    except UserError:
        raise
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}


def _timings(t0: float, t_fit: float, t_eval: float, training: dict[str, Any] | None) -> dict[str, float]:
    """fit_s is the whole fit's: a run resumed from a checkpoint adds the kept work of the processes before it."""
    earlier = (training or {}).get("fit_s_earlier_processes", 0.0)
    timings = {"fit_s": round(t_fit - t0 + earlier, 2), "eval_s": round(t_eval - t_fit, 2), "total_s": round(t_eval - t0 + earlier, 2)}
    if earlier:
        timings["fit_s_this_process"] = round(t_fit - t0, 2)
    return timings


def run_label(spec: RunSpec) -> str:
    return f"{spec.name} {spec.dataset} seed={spec.seed}"


def launch_rank() -> tuple[int, int]:
    """(rank, world size) under `accelerate launch` / torchrun; (0, 1) in a plain process."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def run_one(
    spec: RunSpec, split: Split, results: Path, threads: int, force: bool, progress: bool, share_cores: int | None = None, fixed: bool = False,
) -> tuple[str, dict | None]:
    """('done' | 'skipped' | 'locked' | 'worker' | 'kept', record); 'kept': this run failed and
    the finished record it was forced to replace stays."""
    key = run_key(spec, split)
    path = record_path(results, spec.dataset, spec.name, key)
    if path.exists() and not force:
        record = read_record(path)
        if record.get("status") == "ok":
            if spec.tags and record.get("tags") != spec.tags:
                # the same run serves several ablations: remember every component it belongs to
                record.setdefault("also_tags", [])
                if spec.tags not in record["also_tags"]:
                    record["also_tags"].append(spec.tags)
                    write_record(path, record)
            return "skipped", record
    rank, _ = launch_rank()
    if rank != 0:  # a helper process of a distributed launch: trains its shard, the main process records
        execute(spec, split, results, threads=threads, progress=False)
        return "worker", None
    with run_lock(results, key) as got:
        if not got:
            return "locked", None
        record = execute(spec, split, results, threads=threads, progress=progress, share_cores=share_cores, fixed=fixed)
        if record["status"] != "ok" and _finished(path):  # a failed --force rerun must not replace a result
            return "kept", record
        write_record(path, record)
    return "done", record


def _finished(path: Path) -> bool:
    try:
        return path.exists() and read_record(path).get("status") == "ok"
    except UserError:  # a corrupt record is no result to keep
        return False


def run_specs(
    specs: Sequence[RunSpec], results: Path, split_settings: dict | None = None, jobs: int = 1, force: bool = False, progress: bool = True,
    threads: int | None = None, backend: str = "loky", tally: Counter | None = None,
) -> list[dict]:
    """The runs' records, in the order of `specs` whatever order they ran in. `tally` (if given)
    counts how each run ended: "done" (trained), "skipped" (its finished record reused),
    "locked" (another bench process has it), "kept" (a failed --force rerun; the earlier record
    stays), "worker" (a helper process of a distributed launch)."""
    from bench.preflight import check_runs

    check_runs(specs, launch_rank()[1])  # every config, LLM folder and encoder setting, before any data is read
    tally = tally if tally is not None else Counter()
    position = {id(s): i for i, s in enumerate(specs)}
    records: list[dict | None] = [None] * len(specs)
    started = 0
    # runs that read other runs' results (Method.after) start once those are done
    for wave in waves(specs):
        if wave:
            ran = _run_wave(wave, results, split_settings, jobs, force, progress, threads, backend, tally, (started, len(specs)))
            for spec, record in zip(wave, ran):
                records[position[id(spec)]] = record
            started += len(wave)
    return [r for r in records if r]


def _run_wave(
    specs: Sequence[RunSpec], results: Path, split_settings: dict | None, jobs: int, force: bool, progress: bool, threads: int | None, backend: str,
    tally: Counter, count: tuple[int, int],
) -> list[dict | None]:
    """The wave's records (None for a run another process holds), in the order of `specs`;
    `count`: (runs of the command before this wave, runs of the command), for the [k/N] lines."""
    from bench import progress as bars

    results = Path(results)
    rank, world = launch_rank()
    from bench.parallel import check_backend

    check_backend(backend)
    if world > 1 and jobs > 1:
        raise UserError("--jobs > 1 cannot be combined with a distributed launch: the processes already share each run")
    splits = {d: prepare_split(d, results, split_settings) for d in sorted({s.dataset for s in specs})}
    cores = os.cpu_count() or 1
    # runs on this machine share its cores as they come and go, and an explicit --threads holds
    # its own before the others divide the rest; a distributed launch or a cluster backend
    # (other machines' cores) keeps fixed threads apart from them
    share_cores = cores if world == 1 and backend == "loky" else None
    fixed = threads is not None
    threads = threads or max(1, cores // max(jobs, 1))
    records: list[dict | None] = [None] * len(specs)
    if jobs <= 1:
        bar = bars.bar(specs, desc="runs", unit="run", disable=not progress or rank != 0)
        for i, spec in enumerate(bar):
            bar.set_postfix_str(run_label(spec))
            status, record = run_one(spec, splits[spec.dataset], results, threads, force, progress, share_cores, fixed)
            tally[status] += 1
            _report(status, spec, record)
            records[i] = record
        return records
    from joblib import Parallel, delayed

    from bench.parallel import joblib_backend
    from bench.schedule import longest_first

    done = [not force and _finished(record_path(results, s.dataset, s.name, run_key(s, splits[s.dataset]))) for s in specs]
    order = longest_first(specs, results, done)
    before, total = count
    with joblib_backend(backend, jobs):
        # joblib starts them in this order; each is reported as it ends (the parent draws no bar:
        # the workers' lines share its terminal)
        outputs = Parallel(return_as="generator_unordered")(
            delayed(_run_in_worker)(i, specs[i], splits[specs[i].dataset], results, threads, force, progress, share_cores, fixed) for i in order
        )
        for finished, (i, status, record) in enumerate(outputs, before + 1):
            tally[status] += 1
            _report(status, specs[i], record, f"[{finished}/{total}] " if progress else "", reused=progress)
            records[i] = record
    return records


def waves(specs: Sequence[RunSpec]) -> tuple[list[RunSpec], list[RunSpec]]:
    """(runs to start now, runs that must wait): a run whose method declares `after` waits while
    the batch holds a run of one of those methods."""
    from bench.methods import METHODS

    methods = {s.method for s in specs}
    waiting = [s for s in specs if set(METHODS.get(s.method).after) & methods]
    return [s for s in specs if s not in waiting], waiting


def _run_in_worker(index: int, *args) -> tuple[int, str, dict | None]:
    """run_one in a joblib worker, which shares its terminal with the others: progress as lines."""
    from bench import progress as bars

    bars.use_lines()
    return (index, *run_one(*args))


def _report(status: str, spec: RunSpec, record: dict | None, prefix: str = "", reused: bool = False) -> None:
    from bench import progress as bars

    label = prefix + run_label(spec)
    if status == "locked":
        bars.write(f"{label}: another bench process is running it; skipped")
    elif record and record.get("status") == "failed":
        kept = "; its earlier finished record is kept" if status == "kept" else ""
        bars.write(f"{label}: FAILED: {record.get('error')}{kept}")
    elif status == "done" and record:
        m = record["metrics"]["test"]
        bars.write(f"{label}: recall@10={m['recall@10']:.4f} ndcg@10={m['ndcg@10']:.4f} mrr={m['mrr']:.4f} ({record['timings']['total_s']:.0f}s)")
    elif status == "skipped" and reused:
        bars.write(f"{label}: finished earlier, record reused")
