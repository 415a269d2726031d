"""Validation only: where Laser's per-user NDCG@10 falls behind BERT4Rec's, by the validation
target's count in the training sequences (quintiles) and by history length (quartiles).

Reads the committed main-suite records (current ones, no ablation variants) and rebuilds the
split they share from the dataset; run from the repository root:
    python reports/experiments/where_laser_loses.py
"""
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from bench.datasets import load_dataset
from bench.metrics import per_user_metric
from bench.results import iter_records
from bench.runner import is_current_main_run
from bench.splits import leave_one_out

METHODS = ("pop", "lora", "full_ft", "laser", "sasrec", "bert4rec")

split = leave_one_out(load_dataset("ml-100k"))
by_method: dict[str, list[np.ndarray]] = {}
for _, record in iter_records(Path("results")):
    if record["method"] in METHODS and is_current_main_run(record):
        if record["split_hash"] != split.hash:
            raise SystemExit(f"{record['key']}: made on split {record['split_hash']}, not this data's {split.hash}")
        by_method.setdefault(record["method"], []).append(per_user_metric(record["ranks"]["valid"], "ndcg@10"))
frame = pd.DataFrame({m: np.mean(by_method[m], axis=0) for m in METHODS if m in by_method})
print("seeds:", {m: len(v) for m, v in by_method.items()})
counts = Counter(item for sequence in split.train for item in sequence)
frame["target_count"] = [counts[t] for t in split.targets("valid")]
frame["history"] = [len(s) for s in split.histories("valid")]
methods = [m for m in METHODS if m in frame]
for column, bins in (("target_count", 5), ("history", 4)):
    groups = frame.groupby(pd.qcut(frame[column], bins, duplicates="drop"), observed=True)
    table = groups[methods].mean().assign(users=groups.size())
    table["laser/bert4rec"] = table["laser"] / table["bert4rec"]
    print(table.round(4).to_string(), end="\n\n")
