"""LLM baselines on the engine (bench/llm/), one module per tuner: lora, full_ft,
prompt_tuning, prefix_tuning. What they share is in base.py; see its docstring."""
