"""The RecBole ID baselines (models.py) and the patches that make RecBole 1.2.1 run here (compat.py)."""
