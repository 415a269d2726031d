"""Baselines: RecBole ID models and LLM tuning methods, behind the harness's Method interface."""
