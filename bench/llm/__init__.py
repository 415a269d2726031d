"""The shared LLM engine: what Laser and the LLM baselines have in common.

backbone loading (backbone), the prompt (prompt), batching (batching), the suffix read-out
model (model), phase-1 candidates (candidates), the two-phase training loop, validation and
scoring (method: `LLMMethod`), per-epoch checkpoints (checkpoint), training diagnostics
(diagnostics) and the settings they read (config: `LLMConfig`, the shared profiles).

A method on top of the engine (laser/, baselines/peft/) says what trains: it builds the model
(`_make_model`) and may add a prefix module and work before training. The engine imports no
method.
"""
