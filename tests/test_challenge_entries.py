"""MSG and CT, the NeurIPS 2023 challenge entries: their transforms, schedules and the architecture they return."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from helpers import context, tiny_setting
from unlearnbench.core.errors import ConfigError
from unlearnbench.methods.ct import CT, cosine_factor, transpose_kernels
from unlearnbench.methods.msg import MSG, linear_annealing_factor, reinit_small_gradients


def test_ct_swaps_the_height_and_width_of_every_kernel():
    conv = nn.Conv2d(1, 1, 2, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]]))
    assert transpose_kernels(nn.Sequential(conv, nn.ReLU())) == 1
    assert conv.weight.flatten().tolist() == [1.0, 3.0, 2.0, 4.0]


def test_ct_anneals_its_lr_on_a_cosine_stepped_per_epoch():
    assert [cosine_factor(e, 3) for e in range(3)] == pytest.approx([1.0, 0.75, 0.25])


def test_ct_reads_retain_data_only():
    assert CT.access == {"retain"}


def test_msg_warms_up_then_anneals_linearly_per_epoch_as_the_reference_scheduler():
    assert [linear_annealing_factor(e, 5) for e in range(5)] == pytest.approx([1 / 3, 2 / 3, 1, 2 / 3, 1 / 3])


def test_msg_redraws_exactly_the_smallest_gradient_share_of_each_conv_and_slows_the_rest():
    conv = nn.Conv2d(1, 2, 2)
    conv.weight.grad = torch.arange(8.0).view(2, 1, 2, 2) - 3.5  # |grad|: 3.5, 2.5, 1.5, 0.5, 0.5, 1.5, 2.5, 3.5
    before = conv.weight.detach().clone()
    masks = reinit_small_gradients(nn.Sequential(conv), 0.25, 0.1, torch.Generator().manual_seed(0))
    redrawn = (conv.weight != before).flatten()
    assert redrawn.tolist() == [False, False, False, True, True, False, False, False]
    assert masks[conv].flatten().tolist() == pytest.approx([0.1, 0.1, 0.1, 1, 1, 0.1, 0.1, 0.1])


def test_msg_init_rate_outside_zero_one_is_refused():
    with pytest.raises(ConfigError, match="init_rate must lie in"):
        MSG.from_params({"init_rate": "1.5"})


@pytest.mark.parametrize("method", [MSG, CT])
def test_the_challenge_entries_return_plain_layers_of_the_settings_architecture(tmp_path, method):
    setting = tiny_setting(tmp_path, model="cnn")
    model = method().unlearn(setting.trained("original").model, context(setting, method.access, method.name))
    assert torch.isfinite(model(setting.data.x_test)).all()
    assert {type(m) for m in model.modules()} <= {nn.Sequential, nn.Conv2d, nn.ReLU, nn.MaxPool2d, nn.Flatten,
                                                   nn.Linear}
