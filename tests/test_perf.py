"""`bench perf`'s measuring pieces produce real, positive numbers (no timing targets here)."""

from bench.perf import eval_throughput, gemm_peak


def test_gemm_peak_and_eval_throughput_are_measured():
    peak = gemm_peak(n=128, repeats=2)
    assert set(peak) == {"gemm_fp32_gflops", "gemm_bf16_gflops"}
    assert all(v > 0 for v in peak.values())
    assert eval_throughput(n_users=50, n_items=300) > 0
