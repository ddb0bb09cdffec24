"""Third-party methods register through the `unlearnbench.methods` entry-point group."""
from __future__ import annotations

import sys
import textwrap

from unlearnbench.core import plugins
from unlearnbench.core.method import METHODS


def _dist(folder, name: str, entry_points: str) -> None:
    """A minimal installed distribution (dist-info) declaring `entry_points`."""
    dist = folder / f"{name}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(entry_points)


def test_entry_point_plugin_is_registered(tmp_path, monkeypatch):
    (tmp_path / "my_unlearn.py").write_text(textwrap.dedent('''
        from unlearnbench.core.method import Method, register_method

        @register_method("third_party_noop")
        class Noop(Method):
            scenarios = frozenset({"class"})
            def unlearn(self, model, ctx):
                return model
    '''))
    _dist(tmp_path, "my_unlearn", "[unlearnbench.methods]\nnoop = my_unlearn\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins.load_plugins(rescan=True)
    try:
        assert METHODS.get("third_party_noop").__module__ == "my_unlearn"
    finally:
        METHODS.remove("third_party_noop")
        sys.modules.pop("my_unlearn", None)


def test_broken_plugin_is_skipped_with_a_message(tmp_path, monkeypatch, capsys):
    _dist(tmp_path, "broken", "[unlearnbench.methods]\nbad = no_such_module_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins.load_plugins(rescan=True)
    assert "skipping plugin 'bad'" in capsys.readouterr().err


def test_a_model_plugin_registers_through_its_entry_point_group(tmp_path, monkeypatch):
    from unlearnbench.models.architectures import MODELS, build_model

    (tmp_path / "my_models.py").write_text(textwrap.dedent('''
        from torch import nn
        from unlearnbench.models.architectures import register_model

        @register_model("tiny_linear")
        def tiny_linear(input_shape, num_classes):
            return nn.Sequential(nn.Flatten(), nn.Linear(input_shape[0] * input_shape[1] * input_shape[2], num_classes))
    '''))
    _dist(tmp_path, "my_models", "[unlearnbench.models]\ntiny_linear = my_models\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins.load_plugins(rescan=True)
    try:
        assert build_model("tiny_linear", (1, 8, 8), 4, seed=0)[1].out_features == 4
    finally:
        MODELS.remove("tiny_linear")
        sys.modules.pop("my_models", None)
