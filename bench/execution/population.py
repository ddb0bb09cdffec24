"""Populations of models for the challenge's forgetting quality: N retrained models, N independently retrained ones
(the ceiling), and per method N unlearned ones, each member with its own seed streams, scored per forget example.

Protocols: "challenge" (one original, N unlearning runs that differ only in the method's randomness, as the NeurIPS
2023 challenge ran entries) and "seeds" (N originals, one unlearning run each). Members are cached like the
original and the retrained model (kinds "retrain@i", "retrain_independent@i", "original@i"), so a killed run
resumes without training any member twice.
"""
from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch
from torch import Tensor, nn

from unlearnbench import __version__
from unlearnbench.core.config import config_dict
from unlearnbench.core.errors import DivergedError, UserError
from unlearnbench.core.method import METHODS, Method
from unlearnbench.execution.backends import map_tasks
from unlearnbench.execution.context import UnlearnContext
from unlearnbench.execution.runner import RunRequest, build_methods, prepare_setting, register_definitions
from unlearnbench.execution.setting import Setting, member_kind
from unlearnbench.metrics.challenge import ChallengeScore, challenge_score, logit_scaled_confidence
from unlearnbench.metrics.klom import klom, klom_summary, margins
from unlearnbench.models.inference import accuracy, predict
from unlearnbench.reports.statistics import rank_groups
from unlearnbench.timing.environment import device_name
from unlearnbench.timing.timer import PhaseTimer, peak_memory_bytes, reset_peak_memory

PROTOCOLS = ("challenge", "seeds")
MIN_SIZE = 3  # the score's buckets reach ceil(log(N - 1)): N = 2 has none
SKIPPED_ROLES = ("reference", "floor")  # their populations are the retrained and the ceiling ones
KLOM_SAMPLE = 1000  # retain-train and validation rows whose KLOM is summarised (the same rows for every member)


@dataclass(frozen=True)
class MemberStats:
    """One member's confidences on forget-train, its margins on forget-train and on the population's retain and
    validation samples, and its retain-train and test accuracies."""

    confidences: np.ndarray
    margins: dict[str, np.ndarray]
    retain_acc: float
    test_acc: float


@dataclass
class PopulationResult:
    """A method's population scored against the retrained one."""

    method: str
    size: int
    protocol: str
    ok: int
    failures: list[str] = field(default_factory=list)
    forget_quality: float = float("nan")
    forget_quality_interval: tuple[float, float] = (float("nan"), float("nan"))  # 95 % bootstrap over examples
    challenge_score: float = float("nan")
    challenge_score_interval: tuple[float, float] = (float("nan"), float("nan"))
    undetermined: int = 0
    klom: dict[str, float] = field(default_factory=dict)  # klom_{forget,retain,val}_p{50,95}
    retain_acc: float = float("nan")
    test_acc: float = float("nan")
    deterministic: bool = False  # every member identical: the method ignores its randomness under "challenge"
    rank: int = 0  # by final score: 1 + methods significantly better (paired over forget examples, Holm); 0: unscored
    defaults: str = ""  # which defaults the method ran with (core.shipped: shipped-tuned or paper)


def check_population(size: int, protocol: str, option: str = "--") -> None:
    """Raises UserError for a population too small to score or an unknown protocol (named as `option`population,
    `option`protocol: CLI flags by default, suite keys with option="")."""
    if size < MIN_SIZE:
        raise UserError(f"{option}population {size}: a population needs at least {MIN_SIZE} models (the challenge's "
                        f"score buckets reach ceil(log(N - 1))); the challenge used 512, try {option}population 32")
    if protocol not in PROTOCOLS:
        raise UserError(f"{option}protocol {protocol!r}: choose challenge (one original, N unlearning runs) or seeds "
                        f"(N originals)")


def klom_rows(setting: Setting) -> dict[str, tuple[Tensor, Tensor]]:
    """The (inputs, labels) whose margins every member gives: all forget-train rows, and up to KLOM_SAMPLE
    retain-train and validation rows drawn once from the setting's evaluation stream."""
    data, split = setting.data, setting.split
    generator = setting.generator("evaluation")
    pick = lambda n: torch.randperm(n, generator=generator, device=data.device)[:KLOM_SAMPLE]  # noqa: E731
    retain = split.retain_train[pick(len(split.retain_train))]
    rows = {"forget": (data.x_train[split.forget_train], data.y_train[split.forget_train]),
            "retain": (data.x_train[retain], data.y_train[retain])}
    if data.x_val is not None and len(data.x_val):
        val = pick(len(data.x_val))
        rows["val"] = (data.x_val[val], data.y_val[val])
    return rows


def check_cache_room(setting: Setting, size: int, protocol: str) -> None:
    """Raises UserError before any training when the model cache's disk cannot hold the population's members."""
    kinds = 3 if protocol == "seeds" else 2  # retrain, retrain_independent (and the seeds protocol's originals)
    model_bytes = sum(p.numel() * p.element_size() for p in setting.new_model().parameters())
    needed = int(kinds * size * model_bytes * 1.1)  # state dicts plus their small headers
    root = setting.cache.root
    root.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(root).free
    if needed > free:
        raise UserError(f"--population {size}: its {kinds * size} member models need about {needed / 2**20:,.0f} MiB "
                        f"in the model cache {root}, which has {free / 2**20:,.0f} MiB free; use a smaller N or "
                        f"--cache-dir on a larger disk")


def member_stats(model: nn.Module, setting: Setting, rows: dict[str, tuple[Tensor, Tensor]]) -> MemberStats:
    """`model`'s statistic on every forget-train example, its margins on `rows`, its retain-train and test
    accuracies."""
    data, split = setting.data, setting.split
    logits = {part: predict(model, x).float() for part, (x, _) in rows.items()}
    confidences = logit_scaled_confidence(logits["forget"].cpu().numpy(), rows["forget"][1].cpu().numpy())
    retain = split.retain_train
    return MemberStats(confidences, {part: margins(logits[part], rows[part][1]) for part in rows},
                       accuracy(predict(model, data.x_train[retain]), data.y_train[retain]),
                       accuracy(predict(model, data.x_test), data.y_test))


def trained_population(setting: Setting, kind: str, size: int, rows: dict[str, tuple[Tensor, Tensor]],
                       progress: Optional[Callable[..., None]] = None) -> list[MemberStats]:
    """Members 0..size-1 of `kind` ("retrain", "retrain_independent"), loaded from the cache or trained (as one
    stacked model where the architecture allows)."""
    setting.train_members(kind, size, progress)
    out = []
    for i in range(size):
        if progress:
            progress(f"{kind} population: member {i + 1}/{size}", transient=i + 1 < size)
        out.append(member_stats(setting.trained(member_kind(kind, i)).model, setting, rows))
    return out


def unlearned_member(setting: Setting, method: Method, member: int, protocol: str,
                     rows: dict[str, tuple[Tensor, Tensor]]) -> MemberStats:
    """Member `member` of `method`'s population: its original (shared or its own), its own method stream."""
    original = setting.trained("original" if protocol == "challenge" else member_kind("original", member)).model
    ctx = UnlearnContext.for_method(method, setting, PhaseTimer(setting.data.device),
                                    stream=member_kind("method", member))
    ctx.timer.start()
    with setting.autocast():
        model = method.unlearn(original, ctx)
    return member_stats(model, setting, rows)


MemberOutcome = tuple[int, "MemberStats | str"]  # (member, its statistics or why it failed)


def unlearned_members(request: RunRequest, name: str, params: dict[str, Any], members: list[int], protocol: str
                      ) -> list[MemberOutcome]:
    """Members `members` of one method's population, in a worker: the setting prepared from `request`, its models
    loaded from the cache the driver filled."""
    register_definitions(request)
    setting = prepare_setting(request)
    method = METHODS.get(name).from_params(params, request.model, request.dataset, request.forget.scenario,
                                           request.defaults)
    return _members(setting, method, members, protocol, klom_rows(setting))


def _members(setting: Setting, method: Method, members: list[int], protocol: str,
             rows: dict[str, tuple[Tensor, Tensor]], progress: Optional[Callable[..., None]] = None
             ) -> list[MemberOutcome]:
    out: list[MemberOutcome] = []
    for i in members:
        if progress:
            progress(f"{method.name} population: member {i + 1}/{len(members)}", transient=i + 1 < len(members))
        try:
            out.append((i, unlearned_member(setting, method, i, protocol, rows)))
        except (DivergedError, UserError) as exc:  # counted and shown, never averaged in
            out.append((i, f"member {i}: {exc}"))
    return out


def _stack(members: list[MemberStats], part: Optional[str] = None) -> np.ndarray:
    """[members, examples]: the confidences on forget-train, or with `part` the margins on that part."""
    return np.stack([m.confidences if part is None else m.margins[part] for m in members])


def klom_against(unlearned: list[MemberStats], retrained: list[MemberStats]) -> dict[str, float]:
    """Median and 95th percentile of per-example KLOM on each part (forget, retain, val)."""
    out = {}
    for part in unlearned[0].margins:
        out.update(klom_summary(klom(_stack(unlearned, part), _stack(retrained, part)), f"klom_{part}"))
    return out


def score_against(unlearned: list[MemberStats], retrained: list[MemberStats]) -> ChallengeScore:
    """F and the final score of `unlearned` members against `retrained` ones."""
    mean = lambda members, key: float(np.mean([getattr(m, key) for m in members]))  # noqa: E731
    return challenge_score(_stack(unlearned), _stack(retrained),
                           (mean(unlearned, "retain_acc"), mean(retrained, "retain_acc")),
                           (mean(unlearned, "test_acc"), mean(retrained, "test_acc")))


def _all_members(request: RunRequest, setting: Setting, methods: list[Method], size: int, protocol: str,
                 rows: dict[str, tuple[Tensor, Tensor]], progress: Optional[Callable[..., None]], backend: str,
                 workers: int, address: Optional[str]) -> dict[str, list[MemberOutcome]]:
    """Every method's member outcomes, here (one worker, local) or spread over `workers` (chunks of members)."""
    outcomes: dict[str, list[MemberOutcome]] = {m.name: [] for m in methods}
    if backend == "local" and workers <= 1:
        for method in methods:
            outcomes[method.name] = _members(setting, method, list(range(size)), protocol, rows, progress)
        return outcomes
    chunks = [list(part) for part in np.array_split(np.arange(size), max(1, min(workers, size))) if len(part)]
    jobs = [(request, m.name, config_dict(m.cfg), [int(i) for i in chunk], protocol) for m in methods
            for chunk in chunks]
    map_tasks(unlearned_members, jobs, lambda job, result: outcomes[job[1]].extend(result), backend=backend,
              workers=workers, address=address,
              on_start=lambda job: progress and progress(f"{job[1]} population: members {job[3][0]}-{job[3][-1]}"))
    return outcomes


def rank_by_final_score(results: list[PopulationResult], scores: dict[str, ChallengeScore]) -> None:
    """Sets each result's rank: 1 + the methods whose final score is significantly higher, from paired t-tests
    over forget examples of each example's share of it, Holm-corrected (the yardstick's rank groups)."""
    shares = [scores[r.method].points * scores[r.method].utility for r in results]
    ranks = rank_groups([{i: -v for i, v in enumerate(share)} for share in shares],
                        [-r.challenge_score for r in results])
    for result, rank in zip(results, ranks):
        result.rank = rank


def population_folder(out: Path, setting: Setting) -> Path:
    """Where a setting's raw populations are kept: OUT/population/<dataset>-<model>-<forget>-seed<seed>/."""
    label = f"{setting.dataset}-{setting.model}-{setting.forget.label}-seed{setting.seed}".replace(" ", "")
    return out / "population" / "".join(c if c.isalnum() or c in "-_.," else "_" for c in label)


def run_population(request: RunRequest, size: int, protocol: str, out: Path,
                   progress: Optional[Callable[..., None]] = None, backend: str = "local", workers: int = 1,
                   address: Optional[str] = None
                   ) -> tuple[list[PopulationResult], ChallengeScore, dict[str, float], Path]:
    """Every requested method's population scored against the retrained population, the ceiling (an
    independently retrained population against the same) and its KLOM, and the folder under `out` where the summary
    and the raw statistics were saved. The members of the
    methods' populations run here, in `workers` processes or as Ray tasks (`backend`); the retrained (and, for the
    seeds protocol, original) members are trained here first, so workers only load them."""
    check_population(size, protocol)
    started = time.perf_counter()
    methods = [m for m in build_methods(request) if m.role not in SKIPPED_ROLES]
    setting = prepare_setting(request, progress)
    reset_peak_memory(setting.data.device)
    check_cache_room(setting, size, protocol)
    kinds = ("retrain", "retrain_independent", *(("original",) if protocol == "seeds" else ()))
    to_train = sum(len(setting.missing_members(kind, size)) for kind in kinds)
    rows = klom_rows(setting)
    retrained = trained_population(setting, "retrain", size, rows, progress)
    independent = trained_population(setting, "retrain_independent", size, rows, progress)
    ceiling = score_against(independent, retrained)
    ceiling_klom = klom_against(independent, retrained)
    if protocol == "seeds":
        setting.train_members("original", size, progress)
    folder = population_folder(out, setting)
    folder.mkdir(parents=True, exist_ok=True)
    outcomes = _all_members(request, setting, methods, size, protocol, rows, progress, backend, workers, address)
    results, scores = [], {}
    for method in methods:
        result = PopulationResult(method.name, size, protocol, ok=0, defaults=method.defaults_source)
        ordered = sorted(outcomes[method.name], key=lambda outcome: outcome[0])
        members = [stats for _, stats in ordered if isinstance(stats, MemberStats)]
        result.failures = [stats for _, stats in ordered if isinstance(stats, str)]
        result.ok = len(members)
        if len(members) >= MIN_SIZE:
            score = scores[method.name] = score_against(members, retrained)
            result.forget_quality, result.challenge_score = score.forget_quality, score.final_score
            result.forget_quality_interval = score.forget_quality_interval
            result.challenge_score_interval = score.final_score_interval
            result.undetermined = score.undetermined
            result.klom = klom_against(members, retrained)
            result.retain_acc = float(np.mean([m.retain_acc for m in members]))
            result.test_acc = float(np.mean([m.test_acc for m in members]))
            result.deterministic = protocol == "challenge" and all(
                np.array_equal(m.confidences, members[0].confidences) for m in members)
            margin_arrays = {f"{side}_margins_{part}": _stack(population, part)
                             for side, population in (("unlearned", members), ("retrained", retrained),
                                                      ("retrained_independent", independent))
                             for part in rows}
            np.savez_compressed(folder / f"{method.name}.npz", unlearned=_stack(members),
                                retrained=_stack(retrained), retrained_independent=_stack(independent),
                                forget_rows=setting.split.forget_train.cpu().numpy(), epsilons=score.epsilons,
                                ceiling_epsilons=ceiling.epsilons, **margin_arrays)
        results.append(result)
    rank_by_final_score([r for r in results if r.method in scores], scores)
    summary = {"dataset": setting.dataset, "model": setting.model, "forget": setting.forget.label,
               "scenario": setting.forget.scenario, "seed": setting.seed, "size": size, "protocol": protocol,
               "ceiling": {**ceiling.summary(), "klom": ceiling_klom},
               "methods": [asdict(r) for r in results],
               "cost": {"wall_seconds": time.perf_counter() - started,
                        "peak_memory_bytes": peak_memory_bytes(setting.data.device),
                        "members_trained": to_train, "members_needed": len(kinds) * size,
                        "device": device_name(setting.data.device), "threads": torch.get_num_threads(),
                        "workers": workers, "backend": backend, "version": __version__,
                        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d")}}
    (folder / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    return results, ceiling, ceiling_klom, folder

