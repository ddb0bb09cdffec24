"""Fisher forgetting: the batched Fisher diagonal equals the reference's per-sample, per-label loop; the noise rules."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers import cell_row, tiny_setting
from unlearnbench.core.errors import ConfigError
from unlearnbench.methods.fisher import Fisher, FisherConfig, add_fisher_noise, fisher_diagonal


def reference_fisher(model: nn.Module, x: torch.Tensor) -> dict:
    """The reference's loop: batch size 1, one backward per label, p-weighted squared gradients, mean over rows."""
    model.eval()
    totals = {p: torch.zeros_like(p) for p in model.parameters()}
    for row in x.split(1):
        out = model(row)
        prob = F.softmax(out, dim=-1).detach()
        for y in range(out.shape[1]):
            model.zero_grad()
            F.cross_entropy(out, torch.tensor([y])).backward(retain_graph=True)
            for p in model.parameters():
                totals[p] += prob[0, y] * p.grad.square()
    return {p: t / len(x) for p, t in totals.items()}


class Residual(nn.Module):
    """Conv, BatchNorm, an in-place residual add and an in-place ReLU, as the end of torchvision's BasicBlock."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(2)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn(self.conv(x))
        out += x
        return self.relu(out)


def _models() -> dict:
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(16, 6), nn.ReLU(), nn.Linear(6, 3))
    cnn = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, stride=2), nn.ReLU(), nn.Conv2d(2, 2, 1), Residual(),
                        nn.Flatten(), nn.Linear(8, 3))
    bn = cnn[3].bn
    bn.running_mean.uniform_(-0.5, 0.5)
    bn.running_var.uniform_(0.5, 2.0)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
    return {"mlp": mlp, "conv-bn-residual": cnn}


@pytest.mark.parametrize("name", ["mlp", "conv-bn-residual"])
def test_the_batched_fisher_equals_the_references_per_sample_per_label_loop(name):
    model = _models()[name]
    x = torch.randn(7, 1, 4, 4, generator=torch.Generator().manual_seed(1))
    expected = reference_fisher(model, x)
    got = fisher_diagonal(model, x, batch_size=3)
    for p in model.parameters():
        assert torch.allclose(got[p], expected[p], rtol=1e-4, atol=1e-9)


def test_a_layer_without_a_per_sample_rule_is_a_one_line_error():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 4), nn.LayerNorm(4), nn.Linear(4, 2))
    with pytest.raises(ConfigError, match="no per-sample gradient rule for LayerNorm"):
        fisher_diagonal(model, torch.randn(2, 1, 2, 2), 2)


def _noised(forget_classes):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 256), nn.ReLU(), nn.Linear(256, 3))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    fisher = {p: torch.zeros_like(p) for p in model.parameters()}  # no information: the variance clamps decide
    add_fisher_noise(model, fisher, model[3], forget_classes, FisherConfig(), torch.Generator().manual_seed(0))
    return model, before


def test_without_retain_information_the_noise_is_the_clamped_variance_times_alpha():
    model, before = _noised(())
    hidden = (model[1].weight - before["1.weight"]).std().item()
    bias = (model[1].bias - before["1.bias"]).std().item()
    assert hidden == pytest.approx((1e3 * 1e-6) ** 0.5, rel=0.1)  # clamp 1e3, alpha 1e-6
    assert bias == pytest.approx((1e3 * 1e-6 * 10) ** 0.5, rel=0.2)  # 1-D parameters x 10


def test_random_and_sub_class_forgetting_leave_the_heads_weight_noise_unboosted():
    model, before = _noised(())
    assert (model[3].weight - before["3.weight"]).std().item() == pytest.approx((1e2 * 1e-6) ** 0.5, rel=0.1)


def test_class_wise_forgetting_boosts_the_heads_weight_noise_tenfold_in_variance():
    model, before = _noised((1,))
    kept = model[3].weight[[0, 2]] - before["3.weight"][[0, 2]]
    assert kept.std().item() == pytest.approx((1e2 * 1e-6 * 10) ** 0.5, rel=0.1)


def test_class_wise_forgetting_moves_the_forgotten_head_rows_to_zero():
    model, before = _noised((1,))
    row = model[3].weight[1]
    assert abs(row.mean().item()) < 0.01 and row.std().item() == pytest.approx((1e-4 * 10) ** 0.5, rel=0.15)
    assert torch.allclose(model[3].weight[0], before["3.weight"][0], atol=0.2)


def test_fisher_runs_on_a_cell_and_forgets_the_class(tmp_path):
    # The tiny setting's model is small and its Fisher information large: the default alpha (1e-6, MNIST-sized)
    # leaves it unmoved, 1e-5 forgets the class.
    row = cell_row(tiny_setting(tmp_path), Fisher(FisherConfig(alpha=1e-5)))
    assert row["status"] == "ok" and row["metrics"]["acc_forget_test"] < 0.5
