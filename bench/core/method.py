"""The `Method` interface every unlearning method implements, and the method registry."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping, Optional

from torch import nn

from unlearnbench.core.config import NoConfig, build_config
from unlearnbench.core.errors import ConfigError, UserError
from unlearnbench.core.registry import Registry
from unlearnbench.core.scenarios import SCENARIOS
from unlearnbench.core.shipped import CHOICES, PAPER, SHIPPED, shipped_params, warn_fallback

if TYPE_CHECKING:
    from unlearnbench.execution.context import UnlearnContext

#: Data a method may declare. `retain_subset` is a few samples per retained class, never a forget sample.
# What a method may ask its context for (see UnlearnContext): data splits, and the models and index sets built
# from the setting.
ACCESS_KINDS = frozenset({"retain_subset", "retain", "forget", "full_train", "val", "forget_inputs",
                          "forget_indices", "teacher", "random_init"})
SEES_FORGET = frozenset({"forget", "full_train", "forget_inputs"})  # kinds that show forget samples to a method


class Method(ABC):
    """An unlearning method: declared data access, typed hyperparameters, and `unlearn`."""

    name: ClassVar[str]  # set by @register_method
    version: ClassVar[int] = 1  # bump on any behaviour change; stored with every result
    Config: ClassVar[type] = NoConfig  # frozen dataclass holding every hyperparameter
    access: ClassVar[frozenset[str]] = frozenset()  # data the context may hand out
    scenarios: ClassVar[frozenset[str]] = frozenset({"class"})
    # "method": an unlearning method; "original" (before unlearning) and "reference" (the retrained model every
    # value is compared with) are shown apart; "floor" (a second, independently seeded retrain) is scored like a
    # method and shows how far retraining itself lands from the reference: the noise floor.
    role: ClassVar[str] = "method"
    # The authors' own values for a model ("resnet18") or a dataset/model pair ("cifar100/resnet18", from their
    # configs), the pair winning; each entry says where it comes from. Values tuned by the harness are shipped
    # apart (core.shipped), never written here.
    model_defaults: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    # True where the reference trains its unlearning batches on augmented data (the dataset's train transform):
    # only then does the context hand out the setting's augmentation (`ctx.augment`); every other method unlearns on
    # clean rows, as its reference's unlearning loaders.
    augments: ClassVar[bool] = False
    # Defaults that differ from Config's in a forget scenario ("random"), as the authors' per-scenario scripts;
    # model defaults win over them.
    scenario_defaults: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    # The equal-budget tuner's space (unlearnbench.core.space): field -> Range, Choice or EpochShare, validated against
    # Config; empty: the method cannot be tuned.
    search_space: ClassVar[Mapping[str, Any]] = {}
    defaults_source: str = PAPER  # which defaults from_params built it with (core.shipped: SHIPPED or PAPER)

    # A tutorial-style loop doing the same work (models.plain), timed beside the method by the speed bench:
    # (original model, cfg, setting) -> model. None: the method has no plain counterpart.
    plain_loop: ClassVar[Optional[Callable[[nn.Module, Any, Any], nn.Module]]] = None

    def __init__(self, cfg: Any | None = None) -> None:
        self.cfg = cfg if cfg is not None else self.Config()

    @classmethod
    def paper_defaults(cls, model: str | None = None, dataset: str | None = None,
                       scenario: str | None = None) -> dict[str, Any]:
        """The authors' values that replace Config's here: the scenario's, then the model's, then the pair's."""
        return {**cls.scenario_defaults.get(scenario or "", {}), **cls.model_defaults.get(model or "", {}),
                **cls.model_defaults.get(f"{dataset}/{model}", {})}

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None = None, model: str | None = None,
                    dataset: str | None = None, scenario: str | None = None, defaults: str = "shipped") -> "Method":
        """Builds the method from Config defaults, then the authors' values for the setting, then (defaults
        "shipped") the shipped-tuned values of the setting, then `params`."""
        if defaults not in CHOICES:
            raise UserError(f"--defaults {defaults!r} is not one of {', '.join(CHOICES)}")
        base, source = cls.paper_defaults(model, dataset, scenario), PAPER
        found = shipped_params(cls.name, cls.version, dataset, model, scenario) if defaults == "shipped" else None
        if found is not None:
            try:
                build_config(cls.Config, {**base, **found[0]}, owner=cls.name)
                base, source = {**base, **found[0]}, SHIPPED
            except ConfigError as exc:
                warn_fallback(cls.name, found[1], f"a value is refused: {exc}")
        method = cls(build_config(cls.Config, {**base, **(params or {})}, owner=cls.name))
        method.defaults_source = source
        return method

    @property
    def zero_glance(self) -> bool:
        """True when the method never sees forget samples."""
        return not (self.access & SEES_FORGET)

    @abstractmethod
    def unlearn(self, model: nn.Module, ctx: "UnlearnContext") -> nn.Module:
        """Returns the unlearned model (may modify and return `model`)."""


ROLES = ("method", "original", "reference", "floor")


def supports(name: str, scenario: str) -> bool:
    """True unless the method stored as `name` is registered and declares it does not suit `scenario`."""
    return name not in METHODS or scenario in METHODS.get(name).scenarios


def role_of(name: str) -> str:
    """The declared role of the method stored as `name` ("method" for one no longer registered)."""
    return METHODS.get(name).role if name in METHODS else "method"


def _check_method(cls: type) -> None:
    declares = [base for base in cls.__mro__ if base is not Method and "scenarios" in vars(base)]
    if not declares:
        raise ValueError(f"method {cls.__name__} must declare `scenarios`, the forgetting scenarios it suits, e.g. "
                         f"scenarios = frozenset({{'class'}}) (choices: {', '.join(SCENARIOS)})")
    unknown = set(cls.scenarios) - set(SCENARIOS)
    if unknown:
        raise ValueError(f"method {cls.__name__} declares unknown scenarios {sorted(unknown)}; choices: "
                         f"{', '.join(SCENARIOS)}")
    if cls.role not in ROLES:
        raise ValueError(f"method {cls.__name__} declares role {cls.role!r}; allowed: {', '.join(ROLES)}")
    bad = set(cls.access) - ACCESS_KINDS
    if bad:
        raise ValueError(f"method {cls.__name__} declares unknown access {sorted(bad)}; allowed: {sorted(ACCESS_KINDS)}")


class _MethodRegistry(Registry[type[Method]]):
    def add(self, name: str, obj: type[Method]) -> None:
        if isinstance(obj, type) and issubclass(obj, Method):
            _check_method(obj)
        super().add(name, obj)


METHODS: Registry[type[Method]] = _MethodRegistry("method", base=Method, plugins=True)
register_method = METHODS.register
