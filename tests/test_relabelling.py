"""Random labels and Amnesiac: which labels the forget samples are trained towards."""
from __future__ import annotations

import torch

import unlearnbench.methods.amnesiac as amnesiac_module
import unlearnbench.methods.random_labels as random_labels_module
from helpers import TINY_CLASSES, context, spy_on_training, tiny_setting
from unlearnbench.methods.amnesiac import Amnesiac, wrong_labels
from unlearnbench.methods.random_labels import RandomLabels


def _spy(monkeypatch, module):
    return spy_on_training(monkeypatch, module, lambda model, x, y, **_: (x.clone(), y.clone()))


def test_random_labels_stay_inside_the_classes_and_may_hit_the_true_one(tmp_path, monkeypatch):
    setting = tiny_setting(tmp_path)
    calls = _spy(monkeypatch, random_labels_module)
    method = RandomLabels.from_params({"epochs": "3"})
    method.unlearn(setting.trained("original").model, context(setting, method.access, "random_labels"))
    forget_passes = [y for x, y in calls[0::2]]
    labels = torch.cat(forget_passes)
    assert len(forget_passes) == 3 and labels.min() >= 0 and labels.max() < TINY_CLASSES
    assert (labels == 0).any()  # the forgotten class 0 is the true label: SalUn's torch.randint can draw it
    assert not torch.equal(forget_passes[0], forget_passes[1])  # fresh labels every epoch


def test_random_labels_repair_on_the_retain_set_after_each_forget_pass(tmp_path, monkeypatch):
    setting = tiny_setting(tmp_path)
    calls = _spy(monkeypatch, random_labels_module)
    method = RandomLabels.from_params({"epochs": "2"})
    ctx = context(setting, method.access, "random_labels")
    method.unlearn(setting.trained("original").model, ctx)
    x_r, y_r = ctx.retain()
    assert [len(x) for x, _ in calls] == [len(ctx.forget()[0]), len(x_r)] * 2 and torch.equal(calls[1][1], y_r)


def test_amnesiac_labels_are_always_wrong_and_uniform_over_the_others():
    y = torch.zeros(4000, dtype=torch.long)
    wrong = wrong_labels(y, 4, torch.Generator().manual_seed(0))
    assert (wrong != y).all() and set(wrong.tolist()) == {1, 2, 3}
    assert torch.bincount(wrong, minlength=4)[1:].min() > 1200  # about 4000 / 3 each


def test_amnesiac_trains_on_the_relabelled_forget_set_and_the_whole_retain_set(tmp_path, monkeypatch):
    setting = tiny_setting(tmp_path)
    calls = _spy(monkeypatch, amnesiac_module)
    ctx = context(setting, Amnesiac.access, "amnesiac")
    Amnesiac().unlearn(setting.trained("original").model, ctx)
    (x_f, y_f), (x_r, y_r) = ctx.forget(), ctx.retain()
    (x, y), = calls
    assert len(x) == len(x_f) + len(x_r) and (y[:len(x_f)] != y_f).all() and torch.equal(y[len(x_f):], y_r)
