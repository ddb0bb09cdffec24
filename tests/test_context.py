"""Zero-glance data access: a method gets exactly the data it declared."""
from __future__ import annotations

import pytest
import torch

from helpers import context, tiny_setting
from unlearnbench.core.errors import DataAccessError, HeldOutTestSplitError
from unlearnbench.execution.context import TRAIN_ORDERS


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
    assert torch.bincount(y).tolist() == [0, 54, 54, 54]  # 60 per class less the 10 % validation split


def test_retain_implies_retain_subset_but_not_forget(cache_dir):
    ctx = context(tiny_setting(cache_dir), {"retain"})
    _, y = ctx.retain()
    assert 0 not in y.tolist() and len(y) == 162
    ctx.retain_subset(per_class=1)
    with pytest.raises(DataAccessError):
        ctx.forget()


def test_full_train_grants_everything(cache_dir):
    ctx = context(tiny_setting(cache_dir), {"full_train"})
    assert set(ctx.forget()[1].tolist()) == {0}
    assert len(ctx.full_train()[1]) == 216


def test_context_exposes_ids_device_and_rng(cache_dir):
    ctx = context(tiny_setting(cache_dir, forget=(1,)), set())
    assert ctx.forget_classes == (1,) and ctx.num_classes == 4
    assert ctx.device == torch.device("cpu") and isinstance(ctx.rng, torch.Generator)


def test_the_validation_split_is_held_out_per_class_disjoint_and_the_same_for_every_seed(cache_dir):
    first, other = (context(tiny_setting(cache_dir, seed=k), {"val", "full_train"}) for k in (0, 1))
    x_val, y_val = first.val()
    assert torch.bincount(y_val).tolist() == [6, 6, 6, 6] and torch.equal(x_val, other.val()[0])
    x_train = first.full_train()[0]
    assert not (torch.cdist(x_val.flatten(1), x_train.flatten(1)) == 0).any()


def test_val_access_is_declared_and_a_setting_without_a_split_says_so(cache_dir):
    with pytest.raises(DataAccessError, match="asked for 'val' data"):
        context(tiny_setting(cache_dir), set()).val()
    with pytest.raises(DataAccessError, match="val_fraction=0"):
        context(tiny_setting(cache_dir, val_fraction="0"), {"val"}).val()


def test_forget_inputs_and_indices_come_without_labels_and_forget_implies_them(cache_dir):
    setting = tiny_setting(cache_dir)
    ctx = context(setting, {"forget_inputs", "forget_indices"})
    assert torch.equal(ctx.forget_indices(), setting.split.forget_train)
    assert torch.equal(ctx.forget_inputs(), setting.data.x_train[setting.split.forget_train])
    with pytest.raises(DataAccessError):
        ctx.forget()
    context(setting, {"forget"}).forget_inputs()


def test_the_teacher_is_a_frozen_eval_copy_of_the_original(cache_dir):
    setting = tiny_setting(cache_dir)
    teacher = context(setting, {"teacher"}).teacher()
    original = setting.trained("original").model
    assert not teacher.training and not any(p.requires_grad for p in teacher.parameters())
    assert all(torch.equal(a, b) for a, b in zip(teacher.state_dict().values(), original.state_dict().values()))
    with torch.no_grad():
        next(teacher.parameters()).add_(1.0)
    assert all(torch.equal(a, b) for a, b in zip(setting.trained("original").model.state_dict().values(),
                                                 original.state_dict().values()))  # a copy: the original is intact


def test_random_init_is_a_fresh_initialisation_of_its_own_stream(cache_dir):
    setting = tiny_setting(cache_dir)
    fresh = context(setting, {"random_init"}).random_init()
    same = setting.new_model("random_init").state_dict()
    assert all(torch.equal(a, same[k]) for k, a in fresh.state_dict().items())
    for start in ("original.init", "retrain.init"):  # never the original's or the retrained model's start
        other = setting.new_model(start).state_dict()
        assert not any(torch.equal(a, other[k]) for k, a in fresh.state_dict().items() if a.dim() > 1), start


def test_by_class_order_reads_retain_rows_class_by_class_then_the_forget_rows(cache_dir):
    ctx = context(tiny_setting(cache_dir, forget=(1,)), {"full_train"})
    _, y = ctx.full_train("by_class")
    assert y.tolist() == [0] * 54 + [2] * 54 + [3] * 54 + [1] * 54


def test_retain_then_forget_order_mixes_the_retain_rows_and_puts_the_forget_rows_last(cache_dir):
    setting = tiny_setting(cache_dir, forget="random:0.1")
    ctx = context(setting, {"full_train"})
    x, _ = ctx.full_train("retain_then_forget")
    forget = len(setting.split.forget_train)
    assert torch.equal(x[-forget:], setting.data.x_train[setting.split.forget_train])
    assert not torch.equal(x[:-forget], setting.data.x_train[setting.split.retain_train])
    assert sorted(x[:-forget].sum((1, 2, 3)).tolist()) == sorted(
        setting.data.x_train[setting.split.retain_train].sum((1, 2, 3)).tolist())


def test_every_order_holds_each_train_row_once(cache_dir):
    setting = tiny_setting(cache_dir)
    for order in TRAIN_ORDERS:
        x, _ = context(setting, {"full_train"}).full_train(order)
        assert sorted(x.sum((1, 2, 3)).tolist()) == sorted(setting.data.x_train.sum((1, 2, 3)).tolist())


@pytest.mark.parametrize("reach", [
    lambda ctx: ctx._setting.data.x_test.mean(),
    lambda ctx: ctx._setting.data.x_test[0],
    lambda ctx: len(ctx._setting.data.y_test),
    lambda ctx: torch.mean(ctx._setting.data.x_test),
    lambda ctx: [v for v in vars(ctx).values() if hasattr(v, "data")][0].data.y_test.sum(),
])
def test_no_obvious_path_leads_from_a_context_to_the_test_split(cache_dir, reach):
    ctx = context(tiny_setting(cache_dir), {"full_train"})
    with pytest.raises(HeldOutTestSplitError, match="the test split is never handed to a method"):
        reach(ctx)


def test_the_guarded_setting_shares_the_trained_models_and_the_real_one_keeps_its_test_split(cache_dir):
    setting = tiny_setting(cache_dir)
    ctx = context(setting, {"teacher"})
    ctx.teacher()
    assert "original" in setting._memo and isinstance(setting.data.x_test, torch.Tensor)
