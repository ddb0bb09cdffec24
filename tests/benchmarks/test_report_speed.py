"""Rendering the HTML report from 100 stored cells (5 settings x 4 methods x 5 seeds)."""
from __future__ import annotations

import pytest

from helpers import stored_row
from unlearnbench.reports.html import render_report

ROWS = [{**stored_row(method, seed, 0.1 * i + 0.01 * seed, time_s=0.5 + i, dataset=f"set{d}"), "id": n}
        for n, (d, i, method, seed) in enumerate(
            (d, i, m, s) for d in range(5) for i, m in enumerate(("retrain", "unsir", "finetune", "original"))
            for s in range(5))]


@pytest.mark.benchmark(group="report")
def test_report_of_100_cells(benchmark):
    assert len(ROWS) == 100
    html = benchmark.pedantic(render_report, args=(ROWS,), rounds=3, warmup_rounds=1)
    assert html.count("<svg") == 20
