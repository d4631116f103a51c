"""The pricing benchmark runs (with a tiny count: figures are not checked here)."""

from __future__ import annotations

import io
from contextlib import redirect_stdout

from benchmarks import pricing


def test_the_benchmark_prints_figures_for_1_and_6_periods() -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        assert pricing.main(["--count", "3", "--repeat", "1"]) == 0
    lines = out.getvalue().splitlines()
    assert "engine alone" in lines[1]
    assert [line.split()[0] for line in lines[2:]] == ["1", "6"]
    assert all(line.count("CDR/s") == 2 for line in lines[2:])
