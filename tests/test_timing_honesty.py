"""Stored seconds are the method's own cost: no one-time process costs, reused times marked, load recorded."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from helpers import TINY_RECIPE
from unlearnbench.execution.runner import RunRequest, run
from unlearnbench.execution.store import open_store
from unlearnbench.reports.html import render_report
from unlearnbench.reports.latex import latex_tables
from unlearnbench.reports.leaderboard import leaderboard_csv, leaderboard_markdown
from unlearnbench.reports.table import format_table
from unlearnbench.timing.contention import BUSY_CORES, LoadWatch, busy_note

TESTS = Path(__file__).resolve().parent
BUILT_IN = ("original", "retrain", "finetune", "gradient_ascent", "unsir")


def test_after_warm_up_nothing_timed_initialises_anything(tmp_path):
    # In a fresh process, lazy imports (torch._dynamo on the first optimiser, ~1.4 s) would land in whichever
    # method runs first; a method's time then depends on its position. After the warm-up none may import a module.
    script = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(TESTS)!r})
        from helpers import load_tiny
        from unlearnbench.data.loading import DATASETS
        from unlearnbench.core.plugins import load_plugins
        load_plugins()
        DATASETS.add("tiny", load_tiny)
        import unlearnbench.execution.runner as runner
        imported = {{}}

        class Watched(runner.PhaseTimer):
            def start(self):
                self._before = set(sys.modules)
                super().start()

            def stop(self):
                imported[len(imported)] = sorted(set(sys.modules) - self._before)
                return super().stop()

        runner.PhaseTimer = Watched
        import unlearnbench.execution.setting as setting_module
        trainings = []
        real_fit = setting_module.fit

        def watched_fit(*args, **kwargs):  # the retrained model's training seconds are stored and reused too
            before = set(sys.modules)
            model = real_fit(*args, **kwargs)
            trainings.append(sorted(set(sys.modules) - before))
            return model

        setting_module.fit = watched_fit
        request = runner.RunRequest(dataset="tiny", methods={BUILT_IN!r}, device="cpu", cache_dir={str(tmp_path)!r},
                                    recipe={TINY_RECIPE!r})
        rows = runner.execute(request, lambda row: None)
        print(json.dumps([[row["method"], row["status"], imported[i]] for i, row in enumerate(rows)]
                         + [["training", "ok", modules] for modules in trainings]))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    cells = json.loads(out.strip().splitlines()[-1])
    assert [name for name, _, _ in cells] == [*BUILT_IN, "training", "training"]  # the original, then the retrain
    assert all(status == "ok" for _, status, _ in cells)
    assert {name: modules for name, _, modules in cells if modules} == {}


def _run(root, methods=("retrain", "gradient_ascent"), **extra):
    request = RunRequest(dataset="tiny", methods=methods, device="cpu", cache_dir=root / "cache",
                         recipe=TINY_RECIPE, **extra)
    store = open_store(root / "out")
    try:
        return run(request, store)
    finally:
        store.close()


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """The same request run twice on one cache: (rows measured fresh, rows reusing the cached retrain, root)."""
    root = tmp_path_factory.mktemp("runs")
    return _run(root), _run(root), root


def test_every_row_records_threads_wait_policy_and_the_load_around_its_cell(tmp_path):
    torch.set_num_threads(2)
    for row in _run(tmp_path, methods=("original",), threads=1):
        env = row["env"]
        assert env["torch_threads"] == 1 and env["omp_wait_policy"]
        assert set(env["load"]) == {"loadavg_before", "loadavg_after", "other_cpu_cores", "busy"}
    assert torch.get_num_threads() == 2  # the setting's thread count is restored afterwards


def test_a_cached_retrain_time_is_marked_reused_with_where_it_was_measured(two_runs):
    first, (retrain, other), _ = two_runs
    assert first[0]["reused_phases"] == [] and first[0]["env"]["retrain_seconds_reused_from"] is None
    measured = retrain["env"]["reused_measurements"]["train"]
    assert retrain["reused_phases"] == ["train"] and measured["device"] == "cpu" and "created" in measured
    assert measured["torch_threads"] >= 1 and "other_cpu_cores" in measured["load"]
    assert other["reused_phases"] == [] and other["env"]["retrain_seconds_reused_from"] == measured


def test_remeasure_retrain_trains_and_times_it_again(two_runs):
    retrain, other = _run(two_runs[2], remeasure_retrain=True)
    assert retrain["reused_phases"] == [] and other["env"]["retrain_seconds_reused_from"] is None


def test_cached_models_are_keyed_by_device_kind(two_runs):
    blob = torch.load(next((two_runs[2] / "cache").glob("original-*.pt")), weights_only=True)
    assert blob["payload"]["device"] == "cpu" and blob["measured"]["device"] == "cpu"


def test_reused_times_are_marked_in_every_rendering(two_runs):
    rows = two_runs[1]
    assert "train=" in format_table(rows) and "reused from the cached retrained model" in format_table(rows)
    html = render_report(rows)
    assert 'class="reused"' in html and "--remeasure-retrain" in html
    markdown = leaderboard_markdown(rows)
    assert "x\\*" in markdown and "> \\* = seconds reused" in markdown  # escaped: a bare * is Markdown syntax
    csv = leaderboard_csv(rows).splitlines()
    assert csv[0].endswith("time_reused,speedup_reused,tuned,defaults")
    assert all(line.endswith("True,False,paper") for line in csv[1:])
    assert "$^*$" in latex_tables(rows)


def test_fresh_measurements_carry_no_reuse_marks(two_runs):
    rows = two_runs[0]
    assert "reused" not in format_table(rows) and 'class="reused"' not in render_report(rows)
    assert "*" not in leaderboard_markdown(rows) and "reused" not in leaderboard_markdown(rows)


def test_load_watch_sees_a_busy_process_beside_it():
    spin = "import time\nend = time.time() + 0.8\nwhile time.time() < end: pass"
    busy = subprocess.Popen([sys.executable, "-c", spin])
    try:
        watch = LoadWatch()
        busy.wait()
        load = watch.finish()
    finally:
        busy.kill()
    assert load["other_cpu_cores"] >= BUSY_CORES and load["busy"]


def test_busy_cells_are_named_in_a_warning():
    rows = [{"method": "unsir", "seed": 0, "env": {"load": {"busy": True, "other_cpu_cores": 1.2}}},
            {"method": "finetune", "seed": 0, "env": {"load": {"busy": False, "other_cpu_cores": 0.0}}}]
    note = busy_note(rows)
    assert note.startswith("busy machine: other processes used up to 1.20 cores while 1 cell(s) ran")
    assert "unsir (seed 0)" in note and "finetune" not in note
    assert busy_note(rows[1:]) is None
