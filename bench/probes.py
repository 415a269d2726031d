"""`bench probe`: attribution probes on finished runs, from their kept weights.

A probe is a trained run scored again on the test users with one input changed (the runner's
`run_probes` applies them, after a run's final evaluation or here on a restored run).

Each probe is the method's own (`Method.probes`, applied by `Method.probed`): for Laser
`id_shuffled` (each user's ID-encoder states are another user's, through a seeded
derangement), `item_id_shuffled` (each item's prefix from another item's ID state),
`id_mean` (every ID state replaced by the mean state, both sides), and for every LLM method
`text_shuffled` (the item -> title map permuted in history and item prompts alike) and
`text_blank` (user prompts keep no history titles). A probe's result is the full-ranking
metrics and per-user test ranks, so a paired test against the unprobed run is one call away.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from bench.runner import evaluate, kept_finder, prepare_split, run_key, run_probes, seed_everything


def probe_specs(specs, results, split_settings: dict | None = None, names: Sequence[str] | None = None, force: bool = False, threads: int | None = None, progress: bool = True) -> list[dict[str, Any]]:
    """`bench probe`: add the probes to the finished records of `specs` whose weights are kept,
    without retraining. Each record also gets `none`, the unprobed model re-scored in the same
    sitting: the paired reference for its probes (the record's own test ranks came from the
    training process, on a host whose arithmetic may differ). -> one summary row per spec."""
    import os
    from pathlib import Path

    import torch

    from bench import provenance
    from bench.errors import UserError
    from bench.locks import run_lock
    from bench.methods import METHODS, FitContext
    from bench.results import find_weights, load_weights, read_record, record_path, write_record
    from bench import progress as bars

    results = Path(results)
    known = sorted({n for s in specs for n in METHODS.get(s.method).probes})
    for name in names or ():
        if name not in known:
            from bench.errors import unknown

            raise unknown("probe", name, known)
    torch.set_num_threads(threads or os.cpu_count() or 1)
    splits = {d: prepare_split(d, results, split_settings) for d in sorted({s.dataset for s in specs})}
    rows = []
    for spec in specs:
        split = splits[spec.dataset]
        method = METHODS.get(spec.method)(spec.config)
        key = run_key(spec, split, method)
        label = f"{spec.name} {spec.dataset} seed={spec.seed}"
        path = record_path(results, spec.dataset, spec.name, key)
        wanted = [n for n in (names or method.probes) if n in method.probes]
        if not method.keeps_weights or not wanted:
            rows.append({"run": label, "status": "no probes for this method"})
            continue
        before = read_record(path) if path.exists() else {}
        if before.get("status") != "ok":
            rows.append({"run": label, "status": f"no finished record: bench run --methods {spec.name} --seeds {spec.seed}"})
            continue
        weights = find_weights(results, spec.dataset, key)
        if weights is None:
            rows.append({"run": label, "status": f"no kept weights (finished before weights were kept): bench run --methods {spec.name} --seeds {spec.seed} --force"})
            continue
        done = before.get("probes") or {}
        todo = [n for n in wanted if force or n not in done]
        if not todo:
            rows.append({"run": label, "status": "probed already (--force to redo)"})
            continue
        with run_lock(results, key) as got:
            if not got:
                rows.append({"run": label, "status": "another bench process holds this run; skipped"})
                continue
            seed_everything(spec.seed)
            ctx = FitContext(workdir=results / "work" / key, seed=spec.seed, results_root=results, progress=progress, find_kept=kept_finder(results, spec.dataset, split, spec.seed))
            t0 = time.perf_counter()
            try:
                method.restore(split, ctx, load_weights(weights))
                with bars.labelled(label):
                    reference_ranks, reference = evaluate(method, split, "test", progress=progress, desc="unprobed reference")
                    probes = {"none": {"metrics": reference, "ranks": reference_ranks, "seconds": round(time.perf_counter() - t0, 1)}}
                    probes.update(run_probes(method, split, spec.seed, todo, log=bars.write if progress else None, progress=progress))
            except UserError:
                raise
            record = read_record(path)  # as it is now: nothing written meanwhile is lost
            record["probes"] = {**{k: v for k, v in (record.get("probes") or {}).items() if k != "error"}, **probes}
            record["probes_sitting"] = {"host": provenance.host(), "versions": provenance.versions(), "git_commit": provenance.git_commit(), "date": provenance.now(), "threads": torch.get_num_threads()}
            write_record(path, record)
        rows.append({"run": label, "status": "probed", **{n: probes[n]["metrics"]["ndcg@10"] for n in ["none", *todo]}, "record_ndcg@10": record["metrics"]["test"]["ndcg@10"]})
    return rows
