"""Bring your own original (and retrained) model: checked against the setting, scored and unlearned as given."""
from __future__ import annotations

import dataclasses

import pytest
import torch

import unlearnbench
from helpers import TINY_RECIPE, tiny_setting
from unlearnbench.core.errors import UserError
from unlearnbench.models.architectures import build_model
from unlearnbench.models.inference import accuracy, predict
from unlearnbench.models.training import fit


def _own_model(tmp_path):
    """An mlp trained outside the harness's cache (own seed, 2 epochs), as a user would bring it."""
    setting = tiny_setting(tmp_path / "elsewhere")
    model = build_model("mlp", (1, 8, 8), 4, seed=123)
    recipe = dataclasses.replace(setting.recipe, epochs=2)
    return fit(model, setting.data.x_train, setting.data.y_train, recipe, torch.Generator().manual_seed(5)), setting


def _run(tmp_path, **extra):
    return unlearnbench.run(dataset="tiny", methods=["original", "finetune"], out=tmp_path / "out", device="cpu",
                            cache_dir=tmp_path / "cache", recipe=dict(TINY_RECIPE),
                            params={"finetune": {"epochs": "1"}}, **extra)


def test_a_model_brought_as_a_module_is_the_original_that_is_scored_and_unlearned(tmp_path):
    model, setting = _own_model(tmp_path)
    expected = accuracy(predict(model, setting.data.x_test), setting.data.y_test)
    original, finetune = _run(tmp_path, original=model).rows
    assert original["metrics"]["acc_test"] == pytest.approx(expected)
    assert original["env"]["supplied"]["original"] and finetune["status"] == "ok"
    default = _run(tmp_path / "default").rows[0]
    assert default["cell_key"] != original["cell_key"]


def test_a_checkpoint_of_another_architecture_or_class_count_is_a_one_line_error(tmp_path):
    for model, message in ((build_model("cnn", (1, 8, 8), 4, seed=0), "has no layer '1.weight'"),
                           (build_model("mlp", (1, 8, 8), 10, seed=0), "layer '5.weight' has shape (10, 128)")):
        path = tmp_path / "other.pt"
        torch.save(model.state_dict(), path)
        with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
            _run(tmp_path, original=str(path))
        assert "\n" not in str(caught.value)


def test_a_file_that_is_no_checkpoint_is_a_one_line_error(tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("not a checkpoint")
    with pytest.raises(UserError, match="is not a readable state dict"):
        _run(tmp_path, original=str(path))


def test_the_command_line_takes_an_original_checkpoint(cli, tmp_path):
    model, _ = _own_model(tmp_path)
    torch.save(model.state_dict(), tmp_path / "mine.pt")
    code, out, _ = cli("run", "--dataset", "tiny", "--device", "cpu", "--recipe", "epochs=4", "--methods", "original",
                       "--original", str(tmp_path / "mine.pt"), "--quiet", "--out", str(tmp_path / "o"))
    assert code == 0 and "original" in out
