"""Forget specs: parsing, validation, and the four index sets they induce."""
from __future__ import annotations

import pytest
import torch

from unlearnbench.errors import UserError
from unlearnbench.forget import check_forget, parse_forget, split_by_classes


def test_parse_sorts_and_dedups():
    assert parse_forget("2, 0,2") == (0, 2)
    assert parse_forget("0") == (0,)


@pytest.mark.parametrize("text", ["", "a", "0,,2", "0;2", "1.5"])
def test_malformed_forget_is_a_user_error(text):
    with pytest.raises(UserError, match="malformed"):
        parse_forget(text)


def test_out_of_range_names_the_valid_range():
    with pytest.raises(UserError, match=r"forget class 10 is out of range: digits has classes 0..9"):
        check_forget((0, 10), 10, "digits")


def test_forgetting_every_class_is_refused():
    with pytest.raises(UserError, match="cannot forget every class"):
        check_forget((0, 1), 2, "pair")


def test_split_partitions_train_and_test_by_class():
    y_train = torch.tensor([0, 1, 2, 0, 2, 1])
    y_test = torch.tensor([2, 0, 1])
    s = split_by_classes(y_train, y_test, (0, 2))
    assert s.forget_train.tolist() == [0, 2, 3, 4] and s.retain_train.tolist() == [1, 5]
    assert s.forget_test.tolist() == [0, 1] and s.retain_test.tolist() == [2]
