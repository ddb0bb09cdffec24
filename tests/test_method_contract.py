"""Every built-in method honours the Method contract on a tiny CPU cell (run over the registry)."""
from __future__ import annotations

import dataclasses
import json
import pkgutil

import pytest
import torch

import unlearnbench.methods
from helpers import context, tiny_setting
from unlearnbench.core.errors import ConfigError
from unlearnbench.core.method import METHODS
from unlearnbench.core.plugins import load_plugins
from unlearnbench.execution.context import UnlearnContext
from unlearnbench.timing.timer import PhaseTimer

load_plugins()
BUILTIN = [n for n in METHODS.names() if METHODS.get(n).__module__.startswith("unlearnbench.methods.")]


@pytest.fixture(scope="module")
def setting(tmp_path_factory, device):
    return tiny_setting(tmp_path_factory.mktemp("cache"), device=device)


# The contract is about the interface, not the recipe: SFR-on's fixed 1500 iterations would cost ~30 s of tiny cells.
CONTRACT_PARAMS = {"sfron": {"iterations": "40"}}


def _unlearn(name: str, setting):
    method = METHODS.get(name).from_params(CONTRACT_PARAMS.get(name, {}))
    ctx = context(setting, method.access, method=name)
    ctx.timer.start()
    return method.unlearn(setting.trained("original").model, ctx)


def test_every_module_of_the_methods_package_registers_a_method():
    assert sorted(m.name for m in pkgutil.iter_modules(unlearnbench.methods.__path__)) == BUILTIN


@pytest.mark.parametrize("name", BUILTIN)
def test_registry_name_equals_file_stem(name):
    assert METHODS.get(name).__module__.rsplit(".", 1)[1] == name


@pytest.mark.parametrize("name", BUILTIN)
def test_returns_same_architecture_with_finite_outputs(name, setting):
    reference = setting.new_model()
    model = _unlearn(name, setting)
    assert [(k, v.shape) for k, v in model.state_dict().items()] == \
           [(k, v.shape) for k, v in reference.state_dict().items()]
    assert torch.isfinite(model(setting.data.x_test)).all()


SCENARIO_SPECS = {"class": (0,), "partial": "partial:0@0.5", "random": "random:0.1", "subclass": "subclass:1"}


@pytest.fixture(scope="module")
def scenario_settings(tmp_path_factory):
    """One tiny CPU setting per forgetting scenario."""
    cache = tmp_path_factory.mktemp("scenarios")
    return {name: tiny_setting(cache, forget=spec) for name, spec in SCENARIO_SPECS.items()}


@pytest.mark.parametrize("name,scenario", [(n, s) for n in BUILTIN for s in SCENARIO_SPECS
                                            if s in METHODS.get(n).scenarios])
def test_every_method_runs_in_every_scenario_it_declares(name, scenario, scenario_settings):
    setting = scenario_settings[scenario]
    model = _unlearn(name, setting)
    assert torch.isfinite(model(setting.data.x_test)).all()


@pytest.mark.parametrize("name", BUILTIN)
def test_same_seed_gives_same_weights(name, setting):
    a, b = _unlearn(name, setting), _unlearn(name, setting)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


@pytest.mark.parametrize("name", BUILTIN)
def test_config_round_trips_through_json(name):
    cls = METHODS.get(name)
    cfg = cls.Config()
    assert cls.from_params(json.loads(json.dumps(dataclasses.asdict(cfg)))).cfg == cfg


@pytest.mark.parametrize("name", BUILTIN)
def test_unknown_config_key_is_rejected(name):
    with pytest.raises(ConfigError, match="has no parameter no_such_knob"):
        METHODS.get(name).from_params({"no_such_knob": 1})


@pytest.mark.parametrize("name", BUILTIN)
def test_module_docstring_names_paper_authors_code_and_deviations(name):
    doc = __import__(METHODS.get(name).__module__, fromlist=["_"]).__doc__ or ""
    assert "Paper:" in doc and "Authors' code:" in doc and "Deviations:" in doc


@pytest.mark.parametrize("name", BUILTIN)
def test_construction_does_no_work(name):
    method = METHODS.get(name)()
    assert vars(method).keys() == {"cfg"}


@pytest.fixture(scope="module")
def augmenting_setting(tmp_path_factory):
    """A tiny CPU setting whose dataset augments (a flip that records each call), as CIFAR's crop_flip would."""
    setting = tiny_setting(tmp_path_factory.mktemp("augmenting"))
    calls: list[int] = []

    def recording_flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        calls.append(len(x))
        return x.flip(3)

    setting.trained("original")  # trained before the swap: only unlearning calls are recorded
    setting.trained("retrain")
    setting.data = dataclasses.replace(setting.data, augment=recording_flip)
    return setting, calls


@pytest.mark.parametrize("name", [n for n in BUILTIN if METHODS.get(n).role == "method"])
def test_unlearning_batches_are_augmented_exactly_when_the_method_declares_its_reference_does(name,
                                                                                              augmenting_setting):
    setting, calls = augmenting_setting
    calls.clear()
    method = METHODS.get(name).from_params(CONTRACT_PARAMS.get(name, {}))
    ctx = UnlearnContext.for_method(method, setting, PhaseTimer(setting.data.device))
    ctx.timer.start()
    method.unlearn(setting.trained("original").model, ctx)
    assert bool(calls) == method.augments
