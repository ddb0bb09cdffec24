"""DELETE: the target is the original's softmax over the other classes; only forget data; the teacher stays put."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from helpers import cell_row, context, tiny_setting
from unlearnbench.methods.delete import Delete, delete_loss, masked_target


def test_the_target_gives_the_true_class_zero_and_renormalises_the_rest():
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.5, 0.5, 3.0]])
    target = masked_target(logits, torch.tensor([0, 2]))
    assert target[0, 0] == 0 and target[1, 2] == 0
    assert torch.allclose(target[0, 1:], F.softmax(logits[0, 1:], 0))
    assert torch.allclose(target[1, :2], F.softmax(logits[1, :2], 0))


def test_the_loss_is_kl_summed_over_classes_and_averaged_over_the_batch():
    g = torch.Generator().manual_seed(0)
    student, teacher = torch.randn(4, 5, generator=g), torch.randn(4, 5, generator=g)
    target = masked_target(teacher, torch.tensor([0, 1, 2, 3]))
    per_row = (target * (target.clamp_min(1e-30).log() - F.log_softmax(student, 1))).sum(1)
    assert delete_loss(student, target).item() == pytest.approx(per_row.mean().item(), rel=1e-5)


def test_it_reads_forget_data_only_and_never_updates_the_teacher(tmp_path):
    setting = tiny_setting(tmp_path)
    assert Delete.access == {"forget", "teacher"}
    before = [p.detach().clone() for p in setting.trained("original").model.parameters()]
    Delete().unlearn(setting.trained("original").model, context(setting, Delete.access, "delete"))
    assert all(torch.equal(a, b) for a, b in zip(before, setting.trained("original").model.parameters()))


def test_delete_forgets_the_class_on_tiny_data(tmp_path):
    row = cell_row(tiny_setting(tmp_path), Delete.from_params({"lr": "0.01"}))
    assert row["status"] == "ok" and row["metrics"]["acc_forget_test"] < 0.2


def test_it_declares_class_and_subclass_forgetting_only():
    assert Delete.scenarios == {"class", "subclass"}
