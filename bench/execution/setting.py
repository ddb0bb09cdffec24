"""A benchmark setting (dataset, model, forget classes, seed, recipe) and its cached trained models."""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, ContextManager, Optional

import torch
from torch import nn

from unlearnbench.core.errors import DivergedError, UserError
from unlearnbench.core.seeds import STREAMS_VERSION, derive_seed
from unlearnbench.data.forget import ForgetSpec, Split
from unlearnbench.data.loading import Data
from unlearnbench.execution.cache import ModelCache, TrainingTime
from unlearnbench.execution.saved_models import file_digest, load_weights_into
from unlearnbench.models.architectures import build_model
from unlearnbench.models.batched import batchable, fit_batched
from unlearnbench.models.recipes import Recipe, recipe_identity
from unlearnbench.models.training import TRAINER_VERSION, fit
from unlearnbench.timing.contention import LoadWatch
from unlearnbench.timing.environment import device_name
from unlearnbench.timing.timer import synchronize

Progress = Callable[..., None]  # (message, transient=False)
RETAIN_KINDS = ("retrain", "retrain_independent")  # trained on retain-train only


def member_kind(kind: str, member: int) -> str:
    """The kind of member `member` of a population of `kind` models ("retrain@3"): its own cache entry and seed
    streams ("retrain@3.init", "retrain@3.order")."""
    return f"{kind}@{member}"


def base_kind(kind: str) -> str:
    """"retrain" for "retrain" and for a population member "retrain@3"."""
    return kind.split("@", 1)[0]


@dataclass(frozen=True)
class TrainedModel:
    """A model with its training time (and where that was measured) and whether it came from the cache."""

    model: nn.Module
    time: TrainingTime
    cached: bool

    @property
    def seconds(self) -> float:
        """Seconds its training took when it was measured."""
        return self.time.seconds

    @property
    def reused_from(self) -> Optional[dict[str, Any]]:
        """Where its seconds were measured when they come from an earlier run (the cache), else None."""
        return self.time.measured if self.cached else None


@dataclass
class Setting:
    """Everything every method in one benchmark row group shares."""

    dataset: str
    model: str
    forget: ForgetSpec
    seed: int
    recipe: Recipe
    data: Data
    split: Split
    cache: ModelCache
    remeasure: frozenset[str] = frozenset()  # kinds trained (and timed) again even when cached
    supplied: dict[str, str] = dataclasses.field(default_factory=dict)  # kind -> the user's checkpoint, not trained
    _memo: dict[str, TrainedModel] = dataclasses.field(default_factory=dict, repr=False)

    def stream(self, name: str) -> int:
        """The seed of stream `name` (unlearnbench.core.seeds) of this setting's run seed."""
        return derive_seed(self.seed, name)

    def generator(self, stream: str) -> torch.Generator:
        """A fresh generator on the data's device seeded from stream `stream` of the setting's seed."""
        return torch.Generator(device=self.data.device).manual_seed(self.stream(stream))

    def reset(self, kind: str) -> None:
        """Drops the in-memory copy of a trained model, so the next `trained(kind)` loads or trains it again."""
        self._memo.pop(kind, None)

    def reset_all_but_original(self) -> None:
        """Drops every in-memory trained model except the original, so a method that trains one of them (retrain,
        retrain_independent) trains it again against an empty cache, as a timing needs."""
        for kind in [k for k in self._memo if k != "original"]:
            self.reset(kind)

    def with_seed(self, seed: int) -> "Setting":
        """The same setting with another seed (and its own trained models), e.g. for shadow models."""
        return dataclasses.replace(self, seed=seed, _memo={})

    def new_model(self, stream: str = "original.init") -> nn.Module:
        """An untrained model for this setting initialised from seed stream `stream`, on the data's device, in the
        recipe's memory format."""
        model = build_model(self.model, self.data.input_shape, self.data.num_classes, self.stream(stream))
        # Loading weights copies into these tensors in place, so cached models keep the layout too.
        layout = torch.channels_last if self.recipe.channels_last else torch.contiguous_format
        return model.to(self.data.device, memory_format=layout)

    def autocast(self) -> ContextManager:
        """The recipe's precision for training and unlearning steps: bf16 autocast, or nothing for fp32."""
        if self.recipe.precision == "bf16":
            # The scope spans whole loops: autocast's cast cache would keep each weight's bf16 copy from the first
            # step until the scope exits, so every later step would run on stale weights.
            return torch.autocast(self.data.device.type, dtype=torch.bfloat16, cache_enabled=False)
        return contextlib.nullcontext()

    def payload(self, kind: str) -> dict:
        """The cache key of the trained model `kind` ("original" or "retrain")."""
        # The device kind is part of the key: weights and, above all, stored training seconds belong to one.
        payload = {"kind": kind, "dataset": self.dataset, "model": self.model, "seed": self.seed,
                   "recipe": recipe_identity(self.recipe), "trainer_version": TRAINER_VERSION,
                   "device": self.data.device.type, "seed_streams": STREAMS_VERSION}
        if self.forget.scenario == "subclass":  # trained on superclass labels: another model than the original
            payload["labels"] = "superclass"
        if base_kind(kind) in RETAIN_KINDS:
            payload["forget"] = self.forget.stored
            if self.forget.scenario in ("partial", "random"):  # drawn rows: the key names exactly which
                payload["forget_rows"] = self.forget_identity()
        return payload

    def forget_identity(self) -> str:
        """A hash of exactly which train rows are forgotten (differs for every forget set, draw and split)."""
        return hashlib.sha256(self.split.forget_train.cpu().numpy().tobytes()).hexdigest()[:20]

    def trained(self, kind: str, progress: Optional[Progress] = None) -> TrainedModel:
        """The original ("original": all train data), the reference ("retrain": retain data) or the noise floor's
        independent retrain ("retrain_independent": retain data, its own seed streams) model, cached.

        Each call returns a fresh copy, so a method that edits its model in place cannot alter the reference.
        """
        if kind not in self._memo:
            self._memo[kind] = self._train_or_load(kind, progress)
        memo = self._memo[kind]
        return TrainedModel(copy.deepcopy(memo.model), memo.time, memo.cached)

    def _train_or_load(self, kind: str, progress: Optional[Progress]) -> TrainedModel:
        if kind in self.supplied:  # the user's own model: never trained here, never cached, its time unknown (0 s)
            path = self.supplied[kind]
            model = load_weights_into(self.new_model(f"{kind}.init"), path, f"the {kind}")
            return TrainedModel(model, TrainingTime(0.0, {"supplied": str(path), "sha256": file_digest(path)}),
                                cached=True)
        payload = self.payload(kind)
        with self.cache.lock(payload):  # a concurrent worker wanting the same model waits, then loads it
            return self._load_or_fit(kind, payload, progress)

    def _load_or_fit(self, kind: str, payload: dict, progress: Optional[Progress]) -> TrainedModel:
        model = self.new_model(f"{kind}.init")
        stored = None if kind in self.remeasure else self.cache.load(payload, model)
        if stored is not None:
            return TrainedModel(model, stored, cached=True)
        idx = self.split.retain_train if base_kind(kind) in RETAIN_KINDS else None
        x = self.data.x_train if idx is None else self.data.x_train[idx]
        y = self.data.y_train if idx is None else self.data.y_train[idx]

        def on_epoch(epoch: int, total: int) -> None:
            if progress is not None:
                progress(f"training {kind} {self.dataset}/{self.model}: epoch {epoch}/{total}", transient=epoch < total)

        synchronize(self.data.device)
        watch, t0 = LoadWatch(), time.perf_counter()
        try:
            with self.autocast():
                fit(model, x, y, self.recipe, self.generator(f"{kind}.order"),
                    augment=self.data.augment, on_epoch=on_epoch)
        except DivergedError as exc:  # a recipe the model cannot train with is the user's to change
            raise UserError(f"training the {kind} model of {self.dataset}/{self.model} {exc.args[0]}: lower "
                            f"--recipe lr (now {self.recipe.lr:g}) or change the recipe") from None
        synchronize(self.data.device)
        measured = TrainingTime(time.perf_counter() - t0, self.measured_in(watch))
        self.cache.save(payload, model, measured)
        return TrainedModel(model, measured, cached=False)

    def missing_members(self, kind: str, size: int) -> list[int]:
        """Members 0..size-1 of `kind` that are not in the model cache (or are to be measured again)."""
        # Existence only: `trained` loads (and verifies) each member once; a damaged file is retrained alone there.
        return [i for i in range(size)
                if kind in self.remeasure or not self.cache.path(self.payload(member_kind(kind, i))).exists()]

    def train_members(self, kind: str, size: int, progress: Optional[Progress] = None) -> int:
        """Trains members 0..size-1 of `kind` that are not cached yet as one stacked model (unlearnbench.models.batched)
        and caches each, its seconds being the batch's divided by the members trained; returns how many it trained.
        Architectures that do not stack are left to `trained`, one by one."""
        if not batchable(self.new_model(member_kind(kind, 0) + ".init")):
            return 0
        missing = self.missing_members(kind, size)
        if not missing:
            return 0
        if progress is not None:
            progress(f"training {len(missing)} {kind} members of {self.dataset}/{self.model} as one batch")
        idx = self.split.retain_train if base_kind(kind) in RETAIN_KINDS else None
        x = self.data.x_train if idx is None else self.data.x_train[idx]
        y = self.data.y_train if idx is None else self.data.y_train[idx]
        models = [self.new_model(f"{member_kind(kind, i)}.init") for i in missing]
        generators = [self.generator(f"{member_kind(kind, i)}.order") for i in missing]
        synchronize(self.data.device)
        watch, t0 = LoadWatch(), time.perf_counter()
        with self.autocast():
            fit_batched(models, x, y, self.recipe, generators, self.data.augment, what=f"{kind} population")
        synchronize(self.data.device)
        seconds = (time.perf_counter() - t0) / len(missing)
        measured = {**self.measured_in(watch), "batched_members": len(missing)}
        for i, model in zip(missing, models):
            self.cache.save(self.payload(member_kind(kind, i)), model, TrainingTime(seconds, measured))
        return len(missing)

    def measured_in(self, watch: LoadWatch) -> dict[str, Any]:
        """Where a training time was taken: device, threads, machine load and date."""
        return {"device": str(self.data.device), "device_name": device_name(self.data.device),
                "torch_threads": torch.get_num_threads(), "load": watch.finish(),
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
