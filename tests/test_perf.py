"""`bench perf`'s measuring pieces produce real, positive numbers (no timing targets here)."""

from bench.perf import eval_throughput, gemm_peak


def test_gemm_peak_and_eval_throughput_are_measured():
    peak = gemm_peak(n=128, repeats=2)
    assert set(peak) == {"gemm_fp32_gflops", "gemm_bf16_gflops"}
    assert all(v > 0 for v in peak.values())
    assert eval_throughput(n_users=50, n_items=300) > 0


def test_perf_names_an_ablation_variant_as_method_colon_variant():
    import pytest

    from bench.errors import UserError
    from bench.perf import method_and_overrides

    assert method_and_overrides("laser", "cpu") == ("laser", {})
    assert method_and_overrides("laser:suffix_only", "cpu") == ("laser", {"prefix": "none"})
    with pytest.raises(UserError, match="did you mean: suffix_only"):
        method_and_overrides("laser:sufix_only", "cpu")
