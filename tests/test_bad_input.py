"""The damaged states and bad input of a new user's first hours: each is a one-line error (exit 2) or a
recovery with a warning, and nothing stored is lost. One test per case, so none comes back."""
from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from helpers import stored_row
from unlearnbench.cli.main import main
from unlearnbench.data.loading import DATASETS, load_raw
from unlearnbench.execution.cache import checksum
from unlearnbench.execution.store import ResultStore
from unlearnbench.reports.aggregate import aggregate
from unlearnbench.reports.figures import render_svg

RUN = ["run", "--dataset", "tiny", "--device", "cpu", "--recipe", "epochs=3", "--quiet"]


@pytest.fixture(scope="module")
def stored_once(tmp_path_factory):
    """An out dir holding one run of original and gradient ascent, and the cache it trained into."""
    root = tmp_path_factory.mktemp("probe")
    assert main([*RUN, "--methods", "original,gradient_ascent", "--out", str(root / "out"),
                 "--cache-dir", str(root / "cache")]) == 0
    return root


@pytest.fixture
def stored(stored_once, tmp_path):
    """A private copy (out dir, cache dir): a probe may damage it."""
    shutil.copytree(stored_once, tmp_path, dirs_exist_ok=True)
    return tmp_path / "out", tmp_path / "cache"


def _rows(out: Path) -> list[dict]:
    con = sqlite3.connect(out / "results.db")
    try:
        return [dict(zip(("id", "method", "metrics"), r)) for r in con.execute("SELECT id, method, metrics FROM cells")]
    finally:
        con.close()


def _refused(cli, *args, message: str, out: Path | None = None) -> None:
    """The command exits 2 with one line naming `message`, and a store in `out` keeps its rows."""
    before = _rows(out) if out is not None else None
    code, _, err = cli(*args)
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err
    if out is not None:
        assert _rows(out) == before


def _original_accuracy(out: Path) -> float:
    row = next(r for r in reversed(_rows(out)) if r["method"] == "original")
    return json.loads(row["metrics"])["acc_test"]


def test_damaged_cached_weights_are_retrained_with_a_warning(stored, cli):
    out, cache = stored
    model = next(cache.glob("original-*.pt"))
    data = bytearray(model.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(255 - b for b in data[middle:middle + 64])
    model.write_bytes(bytes(data))
    code, _, err = cli(*RUN, "--methods", "original", "--out", str(out), "--cache-dir", str(cache))
    assert code == 0 and "warning: ignoring cached model" in err and "retraining it" in err
    first, again = [json.loads(r["metrics"])["acc_test"] for r in _rows(out) if r["method"] == "original"]
    assert again == first  # retrained to the same weights, not scored with damaged ones


def test_cached_nan_weights_are_retrained_with_a_warning(stored, cli):
    out, cache = stored
    path = next(cache.glob("original-*.pt"))
    blob = torch.load(path, weights_only=True)
    blob["state_dict"] = {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
                          for k, v in blob["state_dict"].items()}
    blob["checksum"] = checksum(blob["payload"], blob["state_dict"])  # intact file, poisoned weights
    torch.save(blob, path)
    code, _, err = cli(*RUN, "--methods", "original", "--out", str(out), "--cache-dir", str(cache))
    assert code == 0 and "it holds NaN/inf weights" in err and _original_accuracy(out) > 0.9


def test_a_train_subset_without_the_forget_class_is_refused(stored, cli):
    out, cache = stored
    _refused(cli, *RUN, "--recipe", "train_subset=5", "--out", str(out), "--cache-dir", str(cache),
             message="fewer than the 2 needed to score it; --recipe train_subset=5 keeps too few", out=out)


@pytest.mark.parametrize("grid,message", [
    ('forget = [[1], [99]]', "t.toml: grid.forget: forget class 99 is out of range: tiny has classes 0..3"),
    ('forget = [[1]]\nseeds = [-1]', "t.toml: grid.seeds: seed -1 is out of range"),
    ('forget = []', "t.toml: grid.forget: expected a list of forget specs"),
    ('forget = [[1]]\nseeds = []', "t.toml: grid.seeds: the list is empty"),
])
def test_suites_are_checked_whole_before_any_cell_runs(stored, cli, tmp_path, grid, message):
    out, cache = stored
    suite = tmp_path / "t.toml"
    suite.write_text(f'device = "cpu"\n[grid]\ndatasets = ["tiny"]\nmodels = ["mlp"]\n{grid}\n[methods]\noriginal = {{}}\n')
    _refused(cli, "sweep", str(suite), "--out", str(out), "--cache-dir", str(cache), "--quiet", message=message,
             out=out)


def test_an_empty_parameter_grid_is_refused(stored, cli, tmp_path):
    out, cache = stored
    suite = tmp_path / "t.toml"
    suite.write_text('[grid]\ndatasets = ["tiny"]\nmodels = ["mlp"]\nforget = [[1]]\n[methods]\nunsir = { noise_lr = [] }\n')
    _refused(cli, "sweep", str(suite), "--out", str(out), "--quiet", message="t.toml: methods.unsir.noise_lr: the list "
             "is empty", out=out)


def test_a_suite_that_is_not_utf8_is_one_line(cli, tmp_path):
    suite = tmp_path / "t.toml"
    suite.write_bytes('name = "caf\u00e9"\n'.encode("latin-1"))
    _refused(cli, "sweep", str(suite), "--out", str(tmp_path / "out"), message="t.toml: not UTF-8 text")


def test_a_damaged_store_is_refused_before_any_training(stored, cli, tmp_path):
    out, _ = stored
    db = out / "results.db"
    data = bytearray(db.read_bytes())
    data[4096:4096 + 512] = b"\xff" * 512  # the second page
    db.write_bytes(bytes(data))
    cache = tmp_path / "fresh-cache"
    for args in (["results", "--out", str(out)], [*RUN, "--out", str(out), "--cache-dir", str(cache)]):
        code, _, err = cli(*args)
        assert code == 2 and len(err.strip().splitlines()) == 1 and "is damaged" in err and "mv " in err
    assert not cache.exists()  # refused before anything was trained


@pytest.mark.parametrize("damage,reason", [
    ("metrics='{bad'", "metrics is not valid JSON"),
    ("params='null'", "params is NoneType, not dict"),
])
def test_malformed_rows_are_skipped_and_listed(stored, cli, damage, reason):
    out, _ = stored
    con = sqlite3.connect(out / "results.db")
    with con:
        con.execute(f"UPDATE cells SET {damage} WHERE id = 2")
    con.close()
    for command in (["results"], ["report"], ["leaderboard"]):
        code, stdout, err = cli(*command, "--out", str(out))
        assert code == 0 and "skipped 1 malformed row(s)" in err and f"id 2: {reason}" in err
    assert "original" in cli("results", "--out", str(out))[1]


def test_an_unknown_status_is_skipped_and_listed(stored, cli):
    out, _ = stored
    con = sqlite3.connect(out / "results.db")
    con.execute("PRAGMA ignore_check_constraints = ON")
    with con:
        con.execute("UPDATE cells SET status = 'lost' WHERE id = 1")
    con.close()
    code, _, err = cli("leaderboard", "--out", str(out))
    assert code == 0 and "id 1: status 'lost' is neither ok nor failed" in err


def test_a_cache_dir_that_is_a_file_is_one_line(cli, tmp_path):
    (tmp_path / "cachefile").write_text("")
    _refused(cli, *RUN, "--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cachefile"),
             message="is a file, not a folder: give --cache-dir a folder")


def test_read_commands_open_the_store_read_only(stored):
    out, _ = stored
    store = ResultStore(out / "results.db", read_only=True)
    try:
        assert len(store.rows()) == 2
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            store._db.execute("DELETE FROM cells")
    finally:
        store.close()


@pytest.mark.parametrize("args,message", [
    (["--recipe", "lr=inf"], "recipe.lr must be a finite number, got 'inf'"),
    (["--methods", "unsir", "--set", "unsir.noise_lr=inf"], "unsir.noise_lr must be a finite number"),
    (["--recipe", "lr=1e6"], "training the original model of tiny/mlp diverged"),
    (["--seed", "-5"], "seed -5 is out of range: use 0..4294967295"),
    (["--seed", "4294967296"], "seed 4294967296 is out of range"),
    (["--methods", "unsir,unsir"], "--methods lists unsir twice with the same parameters"),
])
def test_bad_values_are_one_line_and_keep_the_rows(stored, cli, args, message):
    out, cache = stored
    _refused(cli, *RUN, *args, "--out", str(out), "--cache-dir", str(cache), message=message, out=out)


def test_damaged_dataset_files_are_one_line(cli, tmp_path):
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        (raw / name).write_bytes(b"\x00\x00\x08\x03" + b"\x01" * 40)  # a header that lies about its size
    _refused(cli, "run", "--dataset", "mnist", "--data-root", str(tmp_path / "data"), "--out",
             str(tmp_path / "out"), "--quiet", message="MNIST could not be read under")


def test_declared_class_counts_match_the_data():
    for name in ("digits", "synthetic_mnist"):
        assert DATASETS.get(name).classes == load_raw(name).num_classes


def test_mathtext_in_a_stored_method_name_renders_as_text():
    rows = ([stored_row("retrain", s, 0.0, 10.0) for s in (0, 1, 2)]
            + [stored_row("cost $\\notacommand$", s, 0.1, 0.5) for s in (0, 1, 2)])
    (setting,) = aggregate(rows)
    assert all(render_svg(kind, setting).startswith("<svg") for kind in ("pareto", "phases"))


def test_ctrl_c_during_start_up_is_one_line(monkeypatch, capsys):
    import unlearnbench.cli.main as cli_module

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_module, "build_parser", interrupted)
    assert main(["results"]) == 130
    assert capsys.readouterr().err.strip() == "unlearnbench: interrupted; rows stored so far are kept"


@pytest.mark.slow  # four processes that each import matplotlib and Jinja2: about 10 s on 2 cores
def test_concurrent_reports_on_one_store_all_succeed(stored):
    out, _ = stored
    command = [sys.executable, "-m", "unlearnbench.cli", "report", "--out", str(out)]
    procs = [subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    errors = [p.communicate()[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    assert not list(out.glob("*.tmp")) and (out / "report.html").stat().st_size > 0


def test_a_run_whose_report_cannot_be_written_keeps_its_rows_and_does_not_fail(stored, cli):
    out, cache = stored
    (out / "report.html").unlink()
    (out / "report.html").mkdir()  # something in the way of the report, as a losing writer would find
    code, stdout, err = cli(*RUN, "--methods", "original", "--out", str(out), "--cache-dir", str(cache))
    assert code == 0 and "the rows are stored" in err and len(_rows(out)) == 3
    assert "report: not written" in stdout
