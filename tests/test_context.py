"""Zero-glance data access: a method gets exactly the data it declared."""
from __future__ import annotations

import pytest
import torch

from helpers import context, tiny_setting
from unlearnbench.errors import DataAccessError


def test_undeclared_access_raises_a_clear_error(cache_dir):
    ctx = context(tiny_setting(cache_dir), {"retain_subset"}, method="unsir")
    with pytest.raises(DataAccessError, match=r"method 'unsir' asked for 'forget' data but declared only: "
                                              r"retain_subset; add 'forget' to its `access`"):
        ctx.forget()


def test_retain_subset_draws_per_retained_class_only(cache_dir):
    ctx = context(tiny_setting(cache_dir, forget=(0, 2)), {"retain_subset"})
    x, y = ctx.retain_subset(per_class=5)
    assert sorted(y.tolist()) == [1] * 5 + [3] * 5 and x.shape == (10, 1, 8, 8)
    assert ctx.retain_classes == (1, 3)


def test_retain_subset_caps_at_the_class_size(cache_dir):
    ctx = context(tiny_setting(cache_dir), {"retain_subset"})
    _, y = ctx.retain_subset(per_class=10_000)
    assert torch.bincount(y).tolist() == [0, 60, 60, 60]


def test_retain_implies_retain_subset_but_not_forget(cache_dir):
    ctx = context(tiny_setting(cache_dir), {"retain"})
    _, y = ctx.retain()
    assert 0 not in y.tolist() and len(y) == 180
    ctx.retain_subset(per_class=1)
    with pytest.raises(DataAccessError):
        ctx.forget()


def test_full_train_grants_everything(cache_dir):
    ctx = context(tiny_setting(cache_dir), {"full_train"})
    assert set(ctx.forget()[1].tolist()) == {0}
    assert len(ctx.full_train()[1]) == 240


def test_context_exposes_ids_device_and_rng(cache_dir):
    ctx = context(tiny_setting(cache_dir, forget=(1,)), set())
    assert ctx.forget_classes == (1,) and ctx.num_classes == 4
    assert ctx.device == torch.device("cpu") and isinstance(ctx.rng, torch.Generator)
