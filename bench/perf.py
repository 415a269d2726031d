"""`bench perf`: one sitting, one workload, several methods; ratios are the headline.

For each method (each in its own subprocess, so peak RSS is its own) on the same backbone and
the same ml-100k users: training examples/s and tokens/s over a few steps after a warm-up,
achieved FLOP/s against the matrix-multiply peak measured in the same run, peak memory, and
the item-matrix encoding throughput. The full-ranking evaluator's throughput is
measured once. FLOPs are estimated as 2 x (non-embedding backbone parameters) per token for
the forward pass, the same again for the backward pass through the activations (all methods:
gradients must reach the virtual tokens or adapters), and the same again for the weight
gradients where the backbone's own weights train (full fine-tune; LoRA's adapters are
negligible): 4N per token frozen, 6N fine-tuned, 2N for Laser's suffix-only variant, whose
text runs once without gradient. Attention's quadratic term and the small
trainable modules are left out, so the figure is a lower bound.

Beside the throughput, what it buys: each method's validation NDCG@10 per CPU-minute of
training, read from the current main-suite run records of the same profile
(`accuracy_per_minute`; blank for a method without one).
"""

from __future__ import annotations

import random

import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DEFAULT_METHODS = ("laser", "laser:suffix_only", "lora", "full_ft")  # NAME:VARIANT = an ablation variant of NAME


def _sync(device) -> None:
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def gemm_peak(n: int = 1024, repeats: int = 5, device: str = "cpu") -> dict[str, float]:
    """Square matmuls on `device` (n 1024 on CPU; use 4096+ on a GPU to reach its peak)."""
    import torch

    out = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a, b = torch.randn(n, n, dtype=dtype, device=device), torch.randn(n, n, dtype=dtype, device=device)
        a @ b
        _sync(device)
        t = time.perf_counter()
        for _ in range(repeats):
            a @ b
        _sync(device)
        out[f"gemm_{name}_gflops"] = round(2 * n**3 * repeats / (time.perf_counter() - t) / 1e9, 1)
    return out


def device_name(device: str) -> str:
    import platform

    import torch

    if torch.device(device).type == "cuda":
        return torch.cuda.get_device_name(torch.device(device))
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"


def eval_throughput(n_users: int = 943, n_items: int = 1682) -> float:
    """Users/s through the one evaluator (`ranks_from_scores`), which always ranks on the CPU."""
    import torch

    from bench.metrics import ranks_from_scores

    scores = torch.randn(n_users, n_items + 1)
    targets = torch.randint(1, n_items + 1, (n_users,))
    t = time.perf_counter()
    for _ in range(5):
        ranks_from_scores(scores, targets)
    return round(5 * n_users / (time.perf_counter() - t), 1)


def method_and_overrides(name: str, profile: str) -> tuple[str, dict[str, Any]]:
    """`laser:suffix_only` -> ("laser", that ablation variant's keys); a plain name -> (name, {})."""
    from bench.errors import unknown
    from bench.methods import METHODS

    if ":" not in name:
        return name, {}
    base, variant = name.split(":", 1)
    method = METHODS.get(base)
    tables = [method.ablation_variants(c, profile) for c in method.ablation_components()]
    for table in tables:
        if variant in table:
            return base, table[variant]
    raise unknown("ablation variant", variant, sorted({v for t in tables for v in t}))


def make_method(name: str, batch: int, llm: str | None, profile: str):
    from bench.methods import METHODS

    base, overrides = method_and_overrides(name, profile)
    config: dict[str, Any] = {"profile": profile, **overrides, "batch_size": batch}
    if llm:
        config["llm"] = llm
    return METHODS.get(base)(config)


def preflight(methods, batch: int, llm: str | None, profile: str | None) -> str:
    """Every method name, config and LLM folder, before the first measurement. Returns the
    profile measured: `profile`, or the one the methods resolve to without one."""
    from bench.errors import UserError
    from bench.methods import METHODS

    classes = {name: METHODS.get(name.split(":", 1)[0]) for name in methods}
    llm_methods = sorted(n for n in METHODS if METHODS.get(n).llm_backbone)
    for name, cls in classes.items():
        if not cls.llm_backbone:  # the measured step is the shared engine's
            raise UserError(f"perf measures LLM methods ({', '.join(llm_methods)}), not {name!r}")
    if profile is None:
        profiles = {cls({}).resolved_config()["profile"] for cls in classes.values()}
        if len(profiles) != 1:
            raise UserError(f"the methods resolve to different profiles ({', '.join(sorted(profiles))}): pass --profile")
        (profile,) = profiles
    for name in methods:
        make_method(name, batch, llm, profile).preflight()
    return profile


# the engine's named ranges of a training step (torch.profiler.record_function), as shares of its wall time
BREAKDOWN = ("prompts", "candidates", "id_encoder", "m_former", "llm_forward", "backward", "optimizer")


def breakdown_shares(events, wall_s: float) -> dict[str, float]:
    """Percent of `wall_s` inside each named range (`other`: the rest: loss, scores, bookkeeping).
    The ranges do not nest in a step, so their spans add up."""
    spent = dict.fromkeys(BREAKDOWN, 0.0)
    for event in events:
        if event.name in spent:
            spent[event.name] += event.cpu_time_total / 1e6  # microseconds
    shares = {f"pct_{name}": round(100 * t / wall_s, 1) for name, t in spent.items()}
    shares["pct_other"] = round(100 - sum(shares.values()), 1)
    return shares


def measure_method(name: str, steps: int, batch: int, results: str, llm: str | None, profile: str, breakdown: bool = False) -> dict[str, Any]:
    """Runs inside a fresh process. `breakdown`: after the timed steps, as many again under
    torch's profiler (which slows them), for where a step's time goes."""
    import torch

    from bench.methods import FitContext
    from bench.provenance import PeakMemory
    from bench.runner import prepare_split

    split = prepare_split("ml-100k", Path(results))
    with PeakMemory() as memory:
        method = make_method(name, batch, llm, profile)
        ctx = FitContext(workdir=Path(results) / "work" / f"perf-{name}", seed=0, results_root=Path(results), progress=False)
        model = method.build(split, ctx)
        device = str(method.device())
        optimizer, schedule = method.phase_optimizer(steps + 1, 1)
        n_items = min(split.n_items, 128)
        _sync(device)
        t = time.perf_counter()
        items = model.encode_items(n_items, batch_size=64)
        _sync(device)
        item_rate = n_items / (time.perf_counter() - t)
        items = torch.cat([items, items.new_zeros(split.n_items + 1 - items.shape[0], items.shape[1])])
        rows = method.training_rows(split, 0, "phase1", 0)[: batch * (2 * steps + 1 if breakdown else steps + 1)]
        # the step of phase 1 (the default): user, positive and negatives with item gradient
        method.n_items = split.n_items
        rng = random.Random(0)
        method.train_epoch(rows[:batch], None, optimizer, schedule, ctx, "warm-up", rng=rng)
        info = method.train_epoch(rows[batch : batch * (steps + 1)], None, optimizer, schedule, ctx, "measure", rng=rng)
        shares = {}
        if breakdown:
            from torch.profiler import ProfilerActivity, profile as torch_profile

            with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
                t = time.perf_counter()
                method.train_epoch(rows[batch * (steps + 1) :], None, optimizer, schedule, ctx, "breakdown", rng=rng)
                wall = time.perf_counter() - t
            shares = breakdown_shares(prof.events(), wall)
    counts = method.parameter_counts()
    backbone = model.backbone
    n_embed = model.embed.weight.numel()
    non_embedding = sum(p.numel() for p in backbone.parameters()) - n_embed
    # weight gradients cost 2 FLOPs per token per trainable weight: all of them for full FT, LoRA's
    # adapters only (counting every backbone weight for LoRA overstated its FLOP/s 1.5x)
    trainable_matmul = sum(p.numel() for p in backbone.parameters() if p.requires_grad and p is not model.embed.weight)
    if model.text_constant:  # suffix-only over a cached text: one forward pass, no backward through the text
        flops_per_token = 2 * non_embedding
    else:  # forward, gradient to the inputs (the prefix sits below every layer), weight gradients
        flops_per_token = 2 * non_embedding * 2 + 2 * trainable_matmul
    report = memory.report()
    precision = model.precision
    return {
        "method": name,
        "profile": profile,
        "examples_per_s": info["examples_per_s"],
        "tokens_per_s": info["tokens_per_s"],
        "pad_share": info["pad_share"],
        "achieved_gflops": round(flops_per_token * info["tokens_per_s"] / 1e9, 1),
        "items_encoded_per_s": round(item_rate, 2),
        "peak_rss_mb": report["peak_rss_mb"],
        "cuda_max_allocated_mb": report.get("cuda_max_allocated_mb"),
        "trainable": counts.trainable,
        "device": device_name(device),
        "attention": method.attention,
        "threads": torch.get_num_threads(),
        # the matmuls' arithmetic: the autocast's where one runs, else the weights' dtype
        "arithmetic": precision["autocast"] if precision["autocast"] != "off" else precision["dtype"],
        **shares,
    }


def measure_in_a_process(name: str, steps: int, batch: int, results: str, llm: str | None, profile: str, breakdown: bool = False) -> dict[str, Any]:
    """`measure_method` in a fresh process (its peak RSS is its own); {method, error} if it failed."""
    cmd = [sys.executable, "-m", "bench.perf", name, str(steps), str(batch), results, llm or "", profile, "breakdown" if breakdown else ""]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"method": name, "error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def accuracy_per_minute(results: Path, methods: Sequence[str], profile: str, dataset: str = "ml-100k") -> dict[str, dict[str, float]]:
    """From the current run records (no training here): per method, the validation NDCG@10 its
    kept epoch reached, the training minutes it took (fit time x torch threads = CPU-minutes),
    and their ratio, averaged over seeds. A throughput alone hides what a step buys; this is
    what a CPU-minute of each method's training buys on the same split and profile."""
    from bench.results import iter_records
    from bench.runner import is_current_main_run

    by_method: dict[str, list[tuple[float, float]]] = {}
    for _, record in iter_records(Path(results)):
        name = record.get("method")
        if name not in methods or record.get("dataset") != dataset or (record.get("resolved_config") or {}).get("profile") != profile or not is_current_main_run(record):
            continue
        cpu_minutes = record["timings"]["fit_s"] * record.get("threads", 1) / 60
        by_method.setdefault(name, []).append((record["metrics"]["valid"]["ndcg@10"], cpu_minutes))
    out = {}
    for name, runs in by_method.items():
        valid = sum(v for v, _ in runs) / len(runs)
        minutes = sum(m for _, m in runs) / len(runs)
        out[name] = {"valid_ndcg@10": round(valid, 4), "train_cpu_min": round(minutes, 1), "valid_ndcg@10_per_cpu_min": round(valid / minutes, 6), "seeds": len(runs)}
    return out


ACCURACY_COLUMNS = ("valid_ndcg@10", "train_cpu_min", "valid_ndcg@10_per_cpu_min", "seeds")


def _add_accuracy(rows: list[dict[str, Any]], results: Path, profile: str) -> None:
    accuracy = accuracy_per_minute(results, [row["method"].split(":")[0] for row in rows], profile)
    for row in rows:  # an ablation variant (NAME:VARIANT) has no main-suite record of its own
        for column in ACCURACY_COLUMNS:
            row.pop(column, None)
        row.update(accuracy.get(row["method"], {}))


def _ratios(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Laser over each other method: examples/s, peak memory (GPU memory where the sitting ran
    on one), accuracy per CPU-minute."""
    import pandas as pd

    memory = "cuda_max_allocated_mb" if any(row.get("cuda_max_allocated_mb") for row in rows) else "peak_rss_mb"
    ok = pd.DataFrame(rows).set_index("method")
    ratios = {}
    if "laser" in ok.index and "examples_per_s" in ok:
        for other in ok.index.drop("laser"):
            if pd.notna(ok.loc[other].get("examples_per_s")):
                ratios[f"laser/{other} examples_per_s"] = round(ok.loc["laser", "examples_per_s"] / ok.loc[other, "examples_per_s"], 2)
                ratios[f"laser/{other} {memory}"] = round(ok.loc["laser", memory] / ok.loc[other, memory], 2)
            per_minute = "valid_ndcg@10_per_cpu_min"
            if per_minute in ok and pd.notna(ok.loc["laser", per_minute]) and pd.notna(ok.loc[other, per_minute]):
                ratios[f"laser/{other} {per_minute}"] = round(ok.loc["laser", per_minute] / ok.loc[other, per_minute], 2)
    return ratios


def _write_sitting(out: Path, rows: list[dict[str, Any]], summary: dict[str, Any], provenance: dict[str, Any]) -> None:
    import pandas as pd

    from bench.io import atomic_write_text

    table = pd.DataFrame(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, table.to_csv(index=False))
    atomic_write_text(out.with_suffix(".json"), json.dumps({"rows": rows, "summary": summary, "provenance": provenance}, indent=1))
    print(table.to_string(index=False))
    for k, v in summary.items():
        print(f"{k}: {v}")


def refresh_accuracy(out: Path, results: str = "results") -> list[dict[str, Any]]:
    """Re-read an earlier sitting's accuracy columns (and their Laser ratios) from the current
    records, measuring nothing: runs that land after a sitting (new seeds, resumed runs) change
    what a CPU-minute buys, not the throughput, which stays as that sitting measured it."""
    from bench.errors import UserError
    from bench.provenance import git_commit, now

    sitting = out.with_suffix(".json")
    if not sitting.exists():
        raise UserError(f"no earlier sitting at {sitting}: run `bench perf` first")
    blob = json.loads(sitting.read_text())
    rows, summary = blob["rows"], blob["summary"]
    _add_accuracy(rows, Path(results), summary["profile"])
    summary = {k: v for k, v in summary.items() if not k.startswith("laser/")} | _ratios(rows)
    provenance = {**blob["provenance"], "accuracy_refreshed": {"date": now(), "git_commit": git_commit()}}
    _write_sitting(out, rows, summary, provenance)
    return rows


def run_perf(
    methods=DEFAULT_METHODS, steps: int = 4, batch: int = 8, results: str = "results", out: Path = Path("reports/perf.csv"), llm: str | None = None,
    profile: str | None = None, breakdown: bool = False,
) -> list[dict[str, Any]]:
    """Measure and write `out` (+ .json); a sitting where any method failed writes nothing, so
    the table it would replace stays whole."""
    import pandas as pd
    import torch

    from bench.provenance import git_commit, host, now, versions
    from bench.runner import prepare_split

    profile = preflight(methods, batch, llm, profile)
    prepare_split("ml-100k", Path(results))  # once, before the workers share it
    device = "cuda" if torch.cuda.is_available() else "cpu"
    peak = gemm_peak(n=8192 if device == "cuda" else 1024, repeats=20 if device == "cuda" else 5, device=device)
    rows = []
    for name in methods:
        row = measure_in_a_process(name, steps, batch, results, llm, profile, breakdown)
        if "error" not in row:
            # against the peak of the arithmetic that ran: a host without bf16 instructions emulates
            # it at a fraction of fp32's speed, and its fp32 step read 3000% of that "peak"
            gemm = peak.get(f"gemm_{row['arithmetic']}_gflops")  # fp32 and bf16 are measured
            row["pct_of_peak"] = round(100 * row["achieved_gflops"] / gemm, 1) if gemm else None
        rows.append(row)
    failed = [row for row in rows if "error" in row]
    if failed:
        print(pd.DataFrame(rows).to_string(index=False))
        print(f"{out} not written: {len(failed)} of {len(rows)} methods failed ({failed[0]['method']}: {failed[0]['error']})")
        return rows
    _add_accuracy(rows, Path(results), profile)
    summary = {"device": device_name(device), "profile": profile, "steps": steps, "batch": batch, **peak, "eval_users_per_s": eval_throughput(), **_ratios(rows)}
    provenance = {"date": now(), "git_commit": git_commit(), "versions": versions(), "host": host()}
    _write_sitting(out, rows, summary, provenance)
    return rows


if __name__ == "__main__":  # worker entry: one method per process
    name, steps, batch, results, llm, profile, breakdown = sys.argv[1:8]
    print(json.dumps(measure_method(name, int(steps), int(batch), results, llm or None, profile, breakdown == "breakdown")))
