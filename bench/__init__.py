"""laser-bench: a benchmark and ablation harness for LLM-based sequential recommendation."""

__version__ = "0.1.0"
