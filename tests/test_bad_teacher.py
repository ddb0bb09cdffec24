"""Bad Teacher: forget targets come from the incompetent teacher, retain targets from the original; teachers stay put."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from helpers import cell_row, context, tiny_setting
from unlearnbench.core.errors import ConfigError
from unlearnbench.methods.bad_teacher import BadTeacher, bad_teacher_loss


def test_forget_rows_are_pulled_to_the_incompetent_teacher_and_retain_rows_to_the_original():
    g = torch.Generator().manual_seed(0)
    competent, incompetent = torch.randn(2, 4, generator=g), torch.randn(2, 4, generator=g)
    marker = torch.tensor([1.0, 0.0])
    student = torch.stack([incompetent[0], competent[1]])  # already where each target is
    assert bad_teacher_loss(student, marker, competent, incompetent, 1.0).item() == pytest.approx(0.0, abs=1e-7)


def test_the_kl_keeps_the_references_mean_reduction_over_batch_and_classes():
    g = torch.Generator().manual_seed(1)
    student, competent, incompetent = (torch.randn(3, 5, generator=g) for _ in range(3))
    marker = torch.tensor([1.0, 0.0, 1.0])
    target = torch.where(marker.bool().view(-1, 1), F.softmax(incompetent, 1), F.softmax(competent, 1))
    summed = F.kl_div(F.log_softmax(student, 1), target, reduction="sum")
    assert bad_teacher_loss(student, marker, competent, incompetent, 1.0) == pytest.approx(summed.item() / 15)


def test_the_teachers_are_never_updated(tmp_path):
    setting = tiny_setting(tmp_path)
    original = [p.detach().clone() for p in setting.trained("original").model.parameters()]
    fresh = [p.detach().clone() for p in setting.new_model().parameters()]
    BadTeacher().unlearn(setting.trained("original").model, context(setting, BadTeacher.access, "bad_teacher"))
    assert all(torch.equal(a, b) for a, b in zip(original, setting.trained("original").model.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(fresh, setting.new_model().parameters()))


def test_bad_teacher_forgets_the_class_on_tiny_data(tmp_path):
    row = cell_row(tiny_setting(tmp_path), BadTeacher.from_params({"lr": "0.01", "epochs": "3"}))
    assert row["status"] == "ok" and row["metrics"]["acc_forget_test"] < 0.5


def test_a_retain_fraction_outside_zero_one_is_refused():
    with pytest.raises(ConfigError, match="retain_fraction must lie in"):
        BadTeacher.from_params({"retain_fraction": "0"})
