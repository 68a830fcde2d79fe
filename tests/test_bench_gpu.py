"""The GPU suite: refused off CUDA unless asked for, and a CPU smoke run of its eager methods.

It checks the records' shape, not how fast anything is (that needs a GPU).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import fresh_results

from benchmarks import gpu
from benchmarks.lab import load_records
from ffstream import cli

TINY = ["--quick", "--in-features", "8", "--hidden", "16,16", "--frames", "20"]
TINY += ["--widths", "16,16", "--batch", "8", "--steps", "2", "--repeats", "2"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_refused_off_cuda_with_a_hint(capsys):
    assert cli.main(["bench", "gpu", *TINY, "--device", "cpu", "--results", fresh_results()]) == 2
    assert "--device cuda" in capsys.readouterr().out


def test_cpu_smoke_run_records_a_median_rate_per_method():
    results = fresh_results()
    methods = "observe-eager-awake,observe-eager-sleep,ffnet-bf16"
    argv = ["bench", "gpu", *TINY, "--allow-cpu", "--device", "cpu", "--methods", methods]
    assert cli.main([*argv, "--results", results]) == 0
    records = {r["method"]: r for r in load_records(Path(results))}
    assert sorted(records) == sorted(methods.split(","))
    for method, record in records.items():
        unit = "frames_per_s" if method in gpu.OBSERVE else "pairs_per_s"
        rates = record["details"]["rates"]
        assert len(rates) == 2 and all(r > 0 for r in rates)
        assert record["metrics"][unit] == pytest.approx(sum(rates) / 2)  # median of two
