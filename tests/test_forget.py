"""Forget specs: parsing, labels, validation, and the index sets each scenario induces."""
from __future__ import annotations

import pytest
import torch

from unlearnbench.core.errors import UserError
from unlearnbench.data.forget import ForgetSpec, parse_forget

Y_TRAIN = torch.arange(100) % 4  # 25 samples of each of four classes
Y_TEST = torch.arange(40) % 4


def test_bare_class_ids_keep_meaning_whole_classes():
    assert parse_forget("2, 0,2") == ForgetSpec("class", (0, 2)) == parse_forget("class:0,2")
    assert parse_forget("0").stored == [0] and parse_forget("0,2").label == "0,2"


@pytest.mark.parametrize("text,label", [
    ("partial:3@0.5", "partial:3@0.5"), ("partial:5,3@500", "partial:3,5@500"), ("random:0.1", "random:0.1"),
    ("random:600", "random:600"), ("random:0.1:stratified", "random:0.1:stratified"), ("subclass:0", "subclass:0"),
])
def test_each_scenario_parses_and_names_itself(text, label):
    spec = parse_forget(text)
    assert spec.label == label and spec.stored == [label] and ForgetSpec.from_stored(spec.stored) == spec


def test_a_stored_class_list_reads_back_as_whole_classes():
    assert ForgetSpec.from_stored([0, 2]) == ForgetSpec("class", (0, 2))


@pytest.mark.parametrize("text,message", [
    ("", "malformed"), ("a", "malformed"), ("0,,2", "malformed"), ("1.5", "malformed"),
    ("partial:3", "needs @amount"), ("partial:3@1.5", "strictly between 0 and 1"), ("partial:3@0", "at least 1"),
    ("random:0", "at least 1"), ("random:1.0", "strictly between 0 and 1"), ("random:0.1:sorted", "only option"),
    ("random:600:stratified", "takes a fraction"), ("subclass:0,1", "one fine class"), ("shuffle:0", "unknown"),
    ("partial:x@0.5", "malformed"), ("random:abc", "neither a fraction nor a count"),
])
def test_malformed_specs_are_one_line_user_errors_naming_the_forms(text, message):
    with pytest.raises(UserError, match=message):
        parse_forget(text)


def test_out_of_range_names_the_valid_range():
    with pytest.raises(UserError, match=r"forget class 10 is out of range: digits has classes 0..9"):
        parse_forget("0,10").check(10, "digits")


def test_forgetting_every_class_is_refused():
    with pytest.raises(UserError, match="cannot forget every class"):
        parse_forget("0,1").check(2, "pair")


def test_subclass_needs_a_superclass_map():
    with pytest.raises(UserError, match="declares no superclasses"):
        parse_forget("subclass:0").check(10, "fashion_mnist", None)


def test_class_split_partitions_train_and_test_by_class():
    y_train, y_test = torch.tensor([0, 1, 2, 0, 2, 1]), torch.tensor([2, 0, 1])
    s = parse_forget("0,2").split(y_train, y_test, seed=0)
    assert s.forget_train.tolist() == [0, 2, 3, 4] and s.retain_train.tolist() == [1, 5]
    assert s.forget_test.tolist() == [0, 1] and s.retain_test.tolist() == [2]


def test_partial_forgets_a_fraction_of_the_class_and_retains_the_rest_of_it():
    s = parse_forget("partial:1@0.4").split(Y_TRAIN, Y_TEST, seed=0)
    assert len(s.forget_train) == 10 and (Y_TRAIN[s.forget_train] == 1).all()
    assert (Y_TRAIN[s.retain_train] == 1).sum() == 15  # the rest of class 1 stays in the retain set
    assert (Y_TEST[s.forget_test] == 1).all() and len(s.forget_test) == 10 and (Y_TEST[s.retain_test] != 1).all()


def test_partial_count_applies_to_each_named_class():
    s = parse_forget("partial:0,3@7").split(Y_TRAIN, Y_TEST, seed=0)
    assert (Y_TRAIN[s.forget_train] == 0).sum() == 7 and (Y_TRAIN[s.forget_train] == 3).sum() == 7


def test_random_draws_from_all_rows_and_takes_the_whole_test_split_on_both_sides():
    s = parse_forget("random:0.1").split(Y_TRAIN, Y_TEST, seed=0)
    assert len(s.forget_train) == 10 and len(s.retain_train) == 90
    assert s.forget_test.tolist() == s.retain_test.tolist() == list(range(40))


def test_stratified_random_draws_the_fraction_from_every_class():
    s = parse_forget("random:0.2:stratified").split(Y_TRAIN, Y_TEST, seed=0)
    assert torch.bincount(Y_TRAIN[s.forget_train]).tolist() == [5, 5, 5, 5]


def test_draws_depend_on_the_seed_only_and_not_on_the_device():
    spec = parse_forget("random:0.1")
    first, again, other = (spec.split(Y_TRAIN, Y_TEST, seed=k).forget_train.tolist() for k in (3, 3, 4))
    assert first == again and first != other


def test_subclass_splits_by_fine_labels_while_the_model_sees_superclasses():
    fine_train, fine_test = torch.arange(20) % 4, torch.arange(8) % 4
    coarse_train, coarse_test = fine_train // 2, fine_test // 2
    s = parse_forget("subclass:1").split(coarse_train, coarse_test, 0, fine_train, fine_test)
    assert (fine_train[s.forget_train] == 1).all() and len(s.forget_train) == 5
    assert (coarse_train[s.retain_train] == 0).sum() == 5  # fine class 0 keeps its superclass in the retain set


@pytest.mark.parametrize("text", ["partial:1@25", "random:100"])
def test_a_count_as_large_as_its_pool_is_refused(text):
    with pytest.raises(UserError, match="asked for, but it has"):
        parse_forget(text).split(Y_TRAIN, Y_TEST, seed=0, dataset="toy")
