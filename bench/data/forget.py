"""Forget specifications (whole classes, part of classes, random samples, a sub-class) and the splits they induce."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Optional, Sequence, Union

import torch
from torch import Tensor

from unlearnbench.core.errors import UserError

FORMS = ("0 or class:0,2 (whole classes), partial:3@0.5 or partial:3,5@500 (a fraction or count of each class's "
         "train samples), random:0.1, random:600 or random:0.1:stratified (of all train rows), subclass:0 "
         "(one fine class of a dataset with superclasses)")
DRAW_OFFSET = 5  # keeps the forget draws' stream apart from training and methods
Amount = Union[float, int]  # a fraction in (0, 1) or a count >= 1


def _amount(text: str, spec: str) -> Amount:
    """'0.5' -> 0.5 (a fraction), '500' -> 500 (a count)."""
    try:
        value: Amount = int(text) if re.fullmatch(r"\d+", text) else float(text)
    except ValueError:
        raise UserError(f"forget spec {spec!r}: {text!r} is neither a fraction nor a count; use one of {FORMS}") \
            from None
    if isinstance(value, float) and not 0 < value < 1:
        raise UserError(f"forget spec {spec!r}: the fraction {text} must lie strictly between 0 and 1")
    if isinstance(value, int) and value < 1:
        raise UserError(f"forget spec {spec!r}: the count must be at least 1")
    return value


def _classes(text: str, spec: str) -> tuple[int, ...]:
    parts = [p.strip() for p in text.split(",")]
    if not parts or any(not re.fullmatch(r"-?\d+", p) for p in parts):
        raise UserError(f"forget spec {spec!r} is malformed: use one of {FORMS}")
    return tuple(sorted({int(p) for p in parts}))


@dataclass(frozen=True)
class ForgetSpec:
    """What to forget: a scenario, its classes and, for partial and random, how much."""

    scenario: str = "class"
    classes: tuple[int, ...] = (0,)  # class/partial: class ids; subclass: the one fine class; random: ()
    amount: Optional[Amount] = None  # partial/random: a fraction in (0, 1) or a count
    stratified: bool = False  # random: the same fraction from every class

    @classmethod
    def parse(cls, text: Any) -> "ForgetSpec":
        """Parses a spec string (or a list of class ids, the suite form of whole classes)."""
        if isinstance(text, ForgetSpec):
            return text
        if isinstance(text, (list, tuple)):
            if not text or not all(isinstance(c, int) and not isinstance(c, bool) for c in text):
                raise UserError(f"forget {list(text)!r} is malformed: give class ids or a spec string, one of {FORMS}")
            return cls("class", tuple(sorted(set(text))))
        spec = str(text).strip()
        scenario, sep, rest = spec.partition(":")
        if not sep:
            return cls("class", _classes(spec, spec))
        if scenario == "class":
            return cls("class", _classes(rest, spec))
        if scenario == "partial":
            classes, at, amount = rest.partition("@")
            if not at:
                raise UserError(f"forget spec {spec!r} needs @amount, e.g. partial:3@0.5; forms: {FORMS}")
            return cls("partial", _classes(classes, spec), _amount(amount.strip(), spec))
        if scenario == "random":
            amount, colon, how = rest.partition(":")
            if colon and how.strip() != "stratified":
                raise UserError(f"forget spec {spec!r}: the only option of random is :stratified")
            value = _amount(amount.strip(), spec)
            if colon and isinstance(value, int):
                raise UserError(f"forget spec {spec!r}: random:...:stratified takes a fraction, e.g. random:0.1:stratified")
            return cls("random", (), value, stratified=bool(colon))
        if scenario == "subclass":
            classes = _classes(rest, spec)
            if len(classes) != 1:
                raise UserError(f"forget spec {spec!r}: subclass forgets one fine class, e.g. subclass:0")
            return cls("subclass", classes)
        raise UserError(f"forget spec {spec!r}: unknown scenario {scenario!r}; use one of {FORMS}")

    @classmethod
    def from_stored(cls, value: Sequence[Any]) -> "ForgetSpec":
        """The spec of a stored row's `forget` field: class ids (as stored before scenarios) or [spec string]."""
        if len(value) == 1 and isinstance(value[0], str):
            return cls.parse(value[0])
        return cls.parse(list(value))

    @property
    def stored(self) -> list:
        """The row's `forget` field: whole classes keep their bare id list (so earlier cell keys stay), others
        their label."""
        return list(self.classes) if self.scenario == "class" else [self.label]

    @property
    def label(self) -> str:
        """A short form for tables, titles and file names, e.g. '0,2', 'partial:3@0.5', 'random:0.1'."""
        ids = ",".join(map(str, self.classes))
        if self.scenario == "class":
            return ids
        if self.scenario == "partial":
            return f"partial:{ids}@{self.amount:g}"
        if self.scenario == "random":
            return f"random:{self.amount:g}" + (":stratified" if self.stratified else "")
        return f"subclass:{ids}"

    @property
    def title(self) -> str:
        """The forget part of a setting's title, e.g. '{0, 2}' or 'random:0.1'."""
        return "{" + ", ".join(map(str, self.classes)) + "}" if self.scenario == "class" else self.label

    def check(self, num_classes: int, dataset: str, fine_classes: Optional[int] = None) -> None:
        """Raises UserError unless the spec's classes exist in `dataset` and leave something to retain."""
        if self.scenario == "subclass":
            if fine_classes is None:
                raise UserError(f"forget spec {self.label!r}: {dataset} declares no superclasses; subclass forgetting "
                                "needs a dataset with a superclass map (digits, mnist, cifar100)")
            limit, kind = fine_classes, "fine classes"
        else:
            limit, kind = num_classes, "classes"
        bad = [c for c in self.classes if not 0 <= c < limit]
        if bad:
            raise UserError(f"forget class {bad[0]} is out of range: {dataset} has {kind} 0..{limit - 1}")
        if self.scenario == "class" and len(self.classes) >= num_classes:
            raise UserError(f"cannot forget every class of {dataset}: leave at least one of 0..{num_classes - 1}")

    def split(self, y_train: Tensor, y_test: Tensor, seed: int, fine_train: Optional[Tensor] = None,
              fine_test: Optional[Tensor] = None, dataset: str = "") -> "Split":
        """The forget/retain parts of train and test; draws depend only on (labels, spec, seed), not the device."""
        device = y_train.device
        y_cpu = (fine_train if self.scenario == "subclass" else y_train).cpu()
        test_cpu = (fine_test if self.scenario == "subclass" else y_test).cpu()
        generator = torch.Generator().manual_seed(seed * 1_000_003 + DRAW_OFFSET)
        if self.scenario in ("class", "subclass"):
            forget = torch.isin(y_cpu, torch.tensor(self.classes)).nonzero().flatten()
        elif self.scenario == "partial" or self.stratified:
            per_class = self.classes if self.scenario == "partial" else torch.unique(y_cpu).tolist()
            forget = torch.cat([self._draw((y_cpu == c).nonzero().flatten(), generator, f"class {c}", dataset)
                                for c in per_class])
        else:
            forget = self._draw(torch.arange(len(y_cpu)), generator, "the train split", dataset)
        in_forget = torch.zeros(len(y_cpu), dtype=torch.bool)
        in_forget[forget] = True
        forget_test, retain_test = self.held_out_parts(test_cpu)
        return Split(forget_train=in_forget.nonzero().flatten().to(device),
                     retain_train=(~in_forget).nonzero().flatten().to(device),
                     forget_test=forget_test.to(device), retain_test=retain_test.to(device))

    def held_out_parts(self, labels: Tensor) -> tuple[Tensor, Tensor]:
        """(forget, retain) indices of a held-out split (test or val) given its labels (fine labels for subclass)."""
        if self.scenario == "random":
            # No class is forgotten: the whole held-out split is the non-member side of the attacks (forget part)
            # and the retain side; acc_forget_test is not defined here, so it is never stored.
            every = torch.arange(len(labels), device=labels.device)
            return every, every
        inside = torch.isin(labels, torch.tensor(self.classes, device=labels.device))
        return inside.nonzero().flatten(), (~inside).nonzero().flatten()

    def _draw(self, pool: Tensor, generator: torch.Generator, what: str, dataset: str) -> Tensor:
        """`amount` of `pool` (a fraction rounded, at least one; or a count), drawn without replacement."""
        n = max(1, round(self.amount * len(pool))) if isinstance(self.amount, float) else int(self.amount)
        if n >= len(pool):
            raise UserError(f"forget spec {self.label!r}: {n} sample(s) of {what} of {dataset} asked for, but it has "
                            f"{len(pool)}; forget fewer (a whole class is class:N)")
        return pool[torch.randperm(len(pool), generator=generator)[:n]].sort().values


@dataclass(frozen=True)
class Split:
    """Index tensors (on the data's device) of the forget/retain parts of train and test.

    Test parts per scenario: class and subclass: the forgotten (sub)classes' test samples vs the rest; partial: the
    partly forgotten classes' test samples vs the rest; random: the whole test split on both sides (no forget-test
    accuracy is defined; the attacks take it as their non-members).
    """

    forget_train: Tensor
    retain_train: Tensor
    forget_test: Tensor
    retain_test: Tensor


def parse_forget(text: str) -> ForgetSpec:
    """Parses a --forget value into a ForgetSpec."""
    return ForgetSpec.parse(text)
