"""Validation only: the `cpu` profile's learning curve at 1x, 2x and 4x the examples (seed 0),
validation NDCG@10 against examples seen, from the records beside this log. Writes
`learning_curve.png` beside itself; run from the repository root:
    python reports/experiments/learning_curve.py
"""
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench.results import iter_records
from bench.runner import is_current_main_run

HERE = Path(__file__).parent
RUNS = {  # label -> record; E2 is the main table's seed 0, B1 the same config on E5's 2 threads
    "1x (E2, 1 thread)": "E2-laser-ca4da36f27d7.json",
    "1x (B1, 2 threads)": "B1-laser-budget-2threads-ca4da36f27d7.json",
    "2x (E4, 1 thread)": "E4-laser-75fe35800729.json",
    "4x (E5, 2 threads)": "E5-laser-b6918d9f677b.json",
}
# the floor: MostPop's validation NDCG@10 from its committed main-suite record at the same seed
mostpop_valid = next(
    r["metrics"]["valid"]["ndcg@10"] for _, r in iter_records(Path("results")) if r["method"] == "pop" and r["seed"] == 0 and is_current_main_run(r)
)

fig, ax = plt.subplots(figsize=(7, 4))
for label, name in RUNS.items():
    record = json.loads((HERE / "records" / name).read_text())
    curve = record["training"]["curve"]
    line, = ax.plot([c["examples_seen"] for c in curve], [c["valid_ndcg@10"] for c in curve], marker=".", label=label)
    kept = next(c for c in curve if c["epoch"] == record["training"]["best_epoch"])
    ax.scatter([kept["examples_seen"]], [kept["valid_ndcg@10"]], s=80, facecolors="none", edgecolors=line.get_color())
ax.axhline(mostpop_valid, color="grey", linestyle="--", label=f"MostPop ({mostpop_valid:.4f})")
ax.set_xlabel("training examples seen")
ax.set_ylabel("validation NDCG@10 (943 users)")
ax.set_title("Laser, cpu profile, seed 0: circles mark the kept epoch")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(HERE / "learning_curve.png", dpi=120, metadata={"Software": None})
print("wrote", HERE / "learning_curve.png")
