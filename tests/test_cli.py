"""The command line: a working run, result formats, listings, and one-line errors for bad input."""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import stat
import subprocess
import sys

import pytest

from unlearnbench.cli.main import main

TINY = ["--dataset", "tiny", "--device", "cpu", "--recipe", "epochs=3", "--methods", "original", "--quiet"]


@pytest.fixture(scope="module")
def stored_once(tmp_path_factory):
    """An out dir holding one successful run, made once per module."""
    root = tmp_path_factory.mktemp("stored")
    assert main(["run", *TINY, "--out", str(root / "out"), "--cache-dir", str(root / "cache")]) == 0
    return root / "out"


@pytest.fixture
def stored(stored_once, tmp_path):
    """A private copy of that out dir: a test may add to it or break it."""
    return str(shutil.copytree(stored_once, tmp_path / "out"))


def test_run_prints_a_results_table(stored, cli):
    retrain = [a if a != "original" else "retrain" for a in TINY]  # the gaps are computed against its row
    assert cli("run", *retrain, "--out", stored)[0] == 0
    code, out, _ = cli("results", "--out", stored)
    assert code == 0 and "forget test" in out and "tiny/mlp forget 0" in out
    assert out.index("retrain gap") < out.index("forget test")  # the headline leads


def test_a_run_ends_with_the_three_commands_to_run_next(tmp_path, cli):
    out = tmp_path / "o"
    code, text, _ = cli("run", *TINY, "--out", str(out))
    steps = text[text.index("next:"):].splitlines()[1:]
    assert code == 0 and len(steps) == 3
    assert f"{out / 'report.html'}" in steps[0] and f"unlearnbench leaderboard --out {out}" in steps[1]
    assert f"unlearnbench figures --out {out} --to {out / 'figures'}" in steps[2]


def test_results_json_has_the_documented_fields(stored, cli):
    _, out, _ = cli("results", "--out", stored, "--format", "json")
    (row,) = json.loads(out)
    for field in ("dataset", "model", "method", "forget", "seed", "status", "error", "time_s", "phases", "metrics"):
        assert field in row
    assert row["forget"] == [0] and row["metrics"]["acc_retain_test"] > 0.9  # the original on separable classes


def test_results_csv_has_one_column_per_metric(stored, cli):
    _, out, _ = cli("results", "--out", stored, "--format", "csv")
    (row,) = list(csv.DictReader(io.StringIO(out)))
    assert row["method"] == "original" and float(row["acc_test"]) > 0.9  # the original on separable classes


BUILT_IN = {
    "methods": {"original", "retrain", "finetune", "gradient_ascent", "unsir"},
    "datasets": {"digits", "mnist", "fashion_mnist", "cifar10", "cifar100", "synthetic_cifar10", "synthetic_mnist"},
    "models": {"mlp", "cnn", "resnet18", "allcnn"},
}


@pytest.mark.parametrize("kind", sorted(BUILT_IN))
def test_listings_show_every_built_in_name(cli, kind):
    code, out, _ = cli(kind)
    listed = {line.split()[0] for line in out.splitlines() if line.strip()}
    assert code == 0 and BUILT_IN[kind] <= listed


BAD_INPUT = [
    (["--dataset", "mnsit"], "Unknown dataset 'mnsit'. Did you mean: mnist?"),
    (["--model", "mpl"], "Unknown model 'mpl'. Did you mean: mlp?"),
    (["--methods", "orignal"], "Unknown method 'orignal'. Did you mean: original?"),
    (["--forget", "12"], "forget class 12 is out of range: tiny has classes 0..3"),
    (["--forget", "0,1,2,3"], "cannot forget every class"),
    (["--forget", "0;2"], "is malformed"),
    (["--set", "original.lr=1"], "original has no parameter lr"),
    (["--recipe", "epochs=-1"], "epochs must be > 0"),
    (["--device", "tpu"], "is not one of auto, cpu, cuda"),
]


@pytest.mark.parametrize("args,message", BAD_INPUT)
def test_bad_input_is_one_line_without_traceback_and_keeps_rows(stored, cli, args, message):
    argv = ["run", "--dataset", "tiny", "--device", "cpu", "--recipe", "epochs=3", "--out", stored, "--quiet"]
    for flag, value in zip(args[::2], args[1::2]):
        if flag in argv and flag not in ("--set", "--recipe"):
            argv[argv.index(flag) + 1] = value
        else:
            argv += [flag, value]
    code, _, err = cli(*argv)
    assert code == 2 and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert len(json.loads(cli("results", "--out", stored, "--format", "json")[1])) == 1


def test_missing_data_root_is_one_line(cli, tmp_path):
    code, _, err = cli("run", "--dataset", "mnist", "--data-root", str(tmp_path / "nowhere"), "--out", str(tmp_path),
                       "--quiet")
    assert code == 2 and "is not a readable directory" in err and len(err.strip().splitlines()) == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only folders")
def test_unwritable_out_dir_is_one_line(cli, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    code, _, err = cli("run", *TINY, "--out", str(locked / "out"))
    assert code == 2 and "cannot open results store" in err


def test_out_path_that_is_a_file_is_one_line(cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = cli("run", *TINY, "--out", str(blocker))
    assert code == 2 and "cannot open results store" in err and len(err.strip().splitlines()) == 1


def test_unknown_subcommand_is_one_line(cli):
    code, _, err = cli("frobnicate")
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_table_flags_attacks_without_signal():
    from unlearnbench.reports.table import format_table

    row = {"id": 1, "dataset": "d", "model": "m", "forget": [0], "seed": 0, "method": "original", "status": "ok",
           "time_s": 0.1, "phases": {}, "reused_phases": [], "error": None,
           "metrics": {"mia_loss_signal": 0.01, "mia_svc_signal": 0.3, "mia_entropy_signal": 0.2}}
    text = format_table([row])
    assert "mia_loss: no signal in d/m forget 0 seed 0" in text and "mia_svc: no signal" not in text


def test_bench_prints_the_speed_table(cli):
    code, out, _ = cli("bench", "--dataset", "tiny", "--device", "cpu", "--methods", "original,unsir", "--quiet")
    assert code == 0 and "measured fp32 matmul peak" in out and "train epoch" in out and "unsir" in out


def test_help_loads_no_heavy_library_and_no_plugin():
    script = ("import sys\nfrom unlearnbench.cli.main import main\ntry:\n    main(['run', '--help'])\nexcept SystemExit:\n"
              "    pass\nprint(sorted(m for m in ('sklearn', 'scipy', 'matplotlib', 'jinja2', 'torch', "
              "'unlearnbench.methods.unsir') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_negative_thread_count_is_one_line(cli):
    code, _, err = cli("run", "--dataset", "tiny", "--threads", "-1")
    assert code == 2 and "--threads -1 must be 0 (automatic) or a positive count" in err
