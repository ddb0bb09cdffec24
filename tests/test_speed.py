"""The speed report: FLOP counting known answers, and a report over every method on a tiny setting."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from helpers import TINY_RECIPE, tiny_setting
from unlearnbench.core.errors import DivergedError
from unlearnbench.core.method import METHODS, Method
from unlearnbench.execution.runner import RunRequest
from unlearnbench.speed import bench as speed
from unlearnbench.speed.bench import (FlopCounter, format_speed, load_speed_record, matmul_peak, peak_precision,
                                      speed_record, speed_report)


def _count(fn) -> float:
    counter = FlopCounter()
    with counter.counting():
        fn()
    return counter.flops


def test_linear_flops_count_forward_and_each_gradient_computed():
    layer = nn.Linear(10, 5)
    x = torch.randn(4, 10)
    with torch.no_grad():
        assert _count(lambda: layer(x)) == 2 * 4 * 10 * 5  # forward only
    assert _count(lambda: layer(x)) == 2 * 400  # + weight gradient
    assert _count(lambda: layer(x.requires_grad_())) == 3 * 400  # + input gradient
    layer.requires_grad_(False)
    assert _count(lambda: layer(x)) == 2 * 400  # noise-style: input gradient only


def test_conv_flops_use_output_size_and_kernel():
    conv = nn.Conv2d(3, 8, 3, padding=1)
    with torch.no_grad():
        assert _count(lambda: conv(torch.randn(2, 3, 5, 5))) == 2 * (2 * 8 * 5 * 5) * 3 * 9


def test_counter_stops_counting_after_the_block():
    layer, counter = nn.Linear(2, 2), FlopCounter()
    with counter.counting():
        pass
    layer(torch.randn(1, 2))
    assert counter.flops == 0


def test_samples_count_each_model_call_once_not_each_layer():
    model, counter = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)), FlopCounter()
    with counter.counting():
        model(torch.randn(5, 3))
        model(torch.randn(7, 3))
    assert counter.samples == 12


def test_matmul_peak_is_2n3_flops_over_the_best_time_at_the_first_slow_size(monkeypatch):
    # PEAK_SECONDS is 0.1 here (conftest): sizes double from 256 while a product takes under 0.01 s. The fake clock
    # makes 256 and 512 fast and 1024 slow: 0.04 s at first, then 0.02 s, its best.
    timed: list[int] = []

    def fake_seconds(a, b, device):
        timed.append(len(a))
        return 0.001 if len(a) < 1024 else (0.04 if timed.count(1024) == 1 else 0.02)

    monkeypatch.setattr(speed, "_matmul_seconds", fake_seconds)
    assert matmul_peak(torch.device("cpu")) == pytest.approx(2 * 1024**3 / 0.02 / 1e9)
    assert timed[:3] == [256, 512, 1024] and set(timed[3:]) == {1024}


def test_report_times_every_method_against_its_plain_loop(tmp_path, device):
    request = RunRequest(dataset="tiny", device=device, cache_dir=tmp_path, recipe=TINY_RECIPE,
                         methods=("original", "retrain", "finetune", "gradient_ascent", "unsir"))
    report = speed_report(request)
    rows, setting = report.rows, report.setting
    names = [r.name for r in rows]
    assert names == ["original", "retrain", "finetune", "gradient_ascent", "unsir", "train epoch", "eval pass"]
    by_name = {r.name: r for r in rows}
    assert by_name["original"].plain_seconds is None and by_name["original"].gflop == 0
    assert all(by_name[n].plain_seconds > 0 and by_name[n].gflop > 0 for n in names[1:])
    assert set(by_name["unsir"].phases) == {"noise", "impair", "repair"}
    assert by_name["retrain"].phases["train"] > 0  # measured here, not reused from a cache
    text = format_speed(speed_record(report))
    assert "measured fp32 matmul peak" in text and "unsir" in text and "samples/s" in text
    assert by_name["train epoch"].samples == len(setting.data.x_train)


def test_report_in_bf16_measures_the_bf16_peak_and_says_so(tmp_path):
    # A small noise set: CPUs without bf16 instructions run autocast's bf16 products in a slow fallback.
    request = RunRequest(dataset="tiny", device="cpu", cache_dir=tmp_path, methods=("unsir",),
                         params={"unsir": {"noise_batch": "16", "noise_copies": "2", "noise_steps": "5"}},
                         recipe={**TINY_RECIPE, "precision": "bf16"})
    text = format_speed(speed_record(speed_report(request)))
    assert "measured bf16 matmul peak" in text and "ran under bf16 autocast" in text


def test_profiled_report_lists_each_methods_top_operators_after_its_row(tmp_path, device):
    request = RunRequest(dataset="tiny", device=device, cache_dir=tmp_path, recipe=TINY_RECIPE,
                         methods=("finetune",), params={"finetune": {"epochs": "1"}})
    report = speed_report(request, profiled=True)
    assert list(report.profiles) == ["finetune"] and "aten::" in report.profiles["finetune"]
    text = format_speed(speed_record(report))
    assert "finetune: top 10 operators by self time" in text


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_the_peak_of_fp32_convolutions_on_cuda_is_the_tf32_one(tmp_path, device, model):
    # cuDNN runs fp32 convolutions on TF32 tensor cores: against the plain fp32 peak a GPU epoch showed 144 %.
    setting = tiny_setting(tmp_path, model=model, device=device)
    assert peak_precision(setting) == ("tf32" if device == "cuda" and model == "cnn" else "fp32")


def test_a_saved_speed_report_prints_again_with_its_command_and_machine(cli, tmp_path):
    saved = tmp_path / "speed.json"
    code, measured, _ = cli("bench", "--dataset", "tiny", "--device", "cpu", "--cache-dir", str(tmp_path / "cache"),
                            "--recipe", "epochs=4", "--recipe", "batch_size=32", "--methods", "gradient_ascent",
                            "--quiet", "--save", str(saved))
    assert code == 0 and saved.exists()
    code, shown, _ = cli("bench", "--show", str(saved))
    assert code == 0 and shown.strip() in measured  # the same table, without measuring again
    code, markdown, _ = cli("bench", "--show", str(saved), "--format", "md")
    record = load_speed_record(saved)
    assert record["command"].startswith("unlearnbench bench --dataset tiny") and record["environment"]["torch"]
    assert f"`{record['command']}`" in markdown and "| gradient_ascent |" in markdown


@pytest.mark.parametrize("content,message", [
    (None, "cannot read the speed report"),
    ("not json", "is not JSON: save a speed report with `unlearnbench bench --save FILE`"),
    ('{"rows": []}', "is not a speed report saved by `unlearnbench bench --save`"),
])
def test_showing_a_file_that_is_no_saved_speed_report_is_a_one_line_error(cli, tmp_path, content, message):
    path = tmp_path / "speed.json"
    if content is not None:
        path.write_text(content)
    code, _, err = cli("bench", "--show", str(path))
    assert code == 2 and message in err and err.count("\n") == 1


class _Diverges(Method):
    """Always diverges, as a method with too high a rate on a setting does."""

    scenarios = frozenset({"class"})

    def unlearn(self, model: nn.Module, ctx) -> nn.Module:
        raise DivergedError("diverged: on purpose")


@pytest.fixture
def diverging_method():
    METHODS.add("diverges", _Diverges)
    yield "diverges"
    METHODS.remove("diverges")


def test_a_method_that_diverges_is_a_row_saying_so_and_the_others_are_still_timed(tmp_path, diverging_method):
    # Regression: `bench` ended in a traceback when gradient_ascent's tuned rate diverged on MNIST forget {0, 2}.
    request = RunRequest(dataset="tiny", device="cpu", cache_dir=tmp_path, recipe=TINY_RECIPE,
                         methods=(diverging_method, "gradient_ascent"))
    record = speed_record(speed_report(request))
    rows = {r["name"]: r for r in record["rows"]}
    assert rows["diverges"]["error"] == "diverged: on purpose" and rows["gradient_ascent"]["seconds"] > 0
    assert "diverges" in format_speed(record) and "diverged: on purpose" in format_speed(record)


def test_the_population_row_is_measured_against_the_peak_of_the_threads_it_trained_on(tmp_path, monkeypatch):
    monkeypatch.setattr(speed, "population_threads", lambda: 2)
    peaks = []
    monkeypatch.setattr(speed, "matmul_peak", lambda device, dtype: peaks.append(torch.get_num_threads()) or
                        100.0 * torch.get_num_threads())
    request = RunRequest(dataset="tiny", device="cpu", cache_dir=tmp_path, recipe=TINY_RECIPE, methods=("original",),
                         threads=1)
    record = speed_record(speed_report(request, population=2))
    row = next(r for r in record["rows"] if r["name"] == "population 2 (one batch)")
    assert (row["threads"], row["peak"], record["peak"]) == (2, 200.0, 100.0) and peaks == [1, 2]
    assert "its share is against the peak measured on 2 threads, 200 GFLOP/s" in format_speed(record)


@pytest.mark.slow  # about 8 s: resnet18 members trained four times
def test_a_batchnorm_population_is_timed_stacked_against_one_by_one(tmp_path):
    request = RunRequest(dataset="tiny", model="resnet18", device="cpu", cache_dir=tmp_path,
                         recipe={**TINY_RECIPE, "epochs": "1"}, methods=("original",))
    row = next(r for r in speed_report(request, population=2).rows if r.name == "population 2 (one batch)")
    assert row.seconds > 0 and row.plain_seconds > 0 and row.gflop > 0
