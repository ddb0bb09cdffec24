"""The suite's saved results as docs tables (unlearnbench.devtools.benchmarks)."""
from __future__ import annotations

import json

from unlearnbench.devtools.benchmarks import main

SAVED = {"machine_info": {"cpu": {"brand_raw": "Test CPU", "count": 2}, "python_version": "3.11.2"},
         "commit_info": {"id": "abcdef123456", "dirty": False}, "datetime": "2026-11-29T12:00:00.000000",
         "benchmarks": [
             {"group": "unsir-mnist-forget0-idle", "name": "test_harness[mnist-forget0-unsir-idle]",
              "stats": {"min": 0.25, "rounds": 5}},
             {"group": "unsir-mnist-forget0-idle", "name": "test_plain_loop[mnist-forget0-unsir-idle]",
              "stats": {"min": 0.5, "rounds": 5}},
             {"group": "optimizer-step-adam-mlp-idle", "name": "test_optimizer_steps[idle-torch-adam]",
              "stats": {"min": 0.03, "rounds": 5}},
             {"group": "optimizer-step-adam-mlp-idle", "name": "test_optimizer_steps[idle-lean-adam]",
              "stats": {"min": 0.02, "rounds": 5}},
             {"group": "report", "name": "test_report_of_100_cells", "stats": {"min": 1.5, "rounds": 3}}]}


def _table(tmp_path, capsys, *flags):
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(SAVED))
    assert main([str(path), *flags]) == 0
    return capsys.readouterr().out


def test_each_group_pairs_the_harness_with_its_plain_loop_and_gives_the_ratio(tmp_path, capsys):
    out = _table(tmp_path, capsys, "--markdown")
    assert "| `unsir-mnist-forget0-idle` | 0.250 | 0.500 | 2.00x | 5 |" in out
    assert "| `optimizer-step-adam-mlp-idle` | 0.0200 | 0.0300 | 1.50x | 5 |" in out  # torch's step is the reference


def test_a_group_without_a_reference_shows_only_its_time(tmp_path, capsys):
    assert "| `report` | 1.500 | - | - | 3 |" in _table(tmp_path, capsys, "--markdown")


def test_the_table_names_the_machine_and_commit_it_was_measured_on(tmp_path, capsys):
    assert "Test CPU, 2 cores, Python 3.11.2; 2026-11-29 12:00 UTC, commit abcdef1" in _table(tmp_path, capsys)


def test_a_file_that_is_no_benchmark_result_is_a_one_line_error(tmp_path, capsys):
    path = tmp_path / "other.json"
    path.write_text('{"rows": []}')
    assert main([str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("benchmarks: error: ") and "is not a pytest-benchmark file" in err and err.count("\n") == 1
