"""How well tuned values hold beyond the seeds they were tuned on: each file's values scored by the tuning objective
on the validation split of seeds the tuning never saw, per method, with the mean over methods and who wins.

    python -m unlearnbench.devtools.heldout FILE [FILE ...] [--dataset digits --model mlp --forget 0]
                                            [--seeds 2000-2004] [--data-root DIR] [--cache-dir DIR] [--per-method]

FILE is a shipped defaults file (methods/defaults/*.toml) or a tuned-parameters file (`unlearnbench tune`'s
OUT/tuned-*.toml); only the methods every file holds are compared. docs/tuning.md's one-seed-or-three table is
this command's output. Test data is never read.
"""
from __future__ import annotations

import argparse
import math
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

from unlearnbench.core.errors import DivergedError, UserError
from unlearnbench.core.toml import tomllib
from unlearnbench.devtools import exit_code
from unlearnbench.reports.table import markdown_table


def read_values(path: Path) -> dict[str, dict[str, Any]]:
    """method -> params of a shipped or tuned-parameters file; a one-line UserError for anything else."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"no file {str(path)!r}") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"{path}: cannot read it: {exc}") from None
    methods = data.get("methods")
    if not isinstance(methods, dict) or not all(isinstance(m, dict) and isinstance(m.get("params"), dict)
                                                for m in methods.values()):
        raise UserError(f"{path}: not a shipped defaults or tuned-parameters file (no [methods.NAME] params)")
    return {name: entry["params"] for name, entry in methods.items()}


def parse_seeds(text: str) -> list[int]:
    """'2000-2004' or '0,1,2' as a list of seeds."""
    try:
        if "-" in text.strip("-"):
            low, high = (int(part) for part in text.split("-", 1))
            seeds = list(range(low, high + 1))
        else:
            seeds = [int(part) for part in text.split(",")]
    except ValueError:
        raise UserError(f"--seeds {text!r}: give a range like 2000-2004 or a list like 0,1,2") from None
    if not seeds:
        raise UserError(f"--seeds {text!r} holds no seed")
    return seeds


# What the shipped defaults aim for, read on the validation side: the forgotten classes' val accuracy at most
# 5 % with the other classes' val accuracy within 5 points of the original's.
FORGET_AT_MOST, RETAIN_WITHIN = 0.05, 0.05


@dataclass(frozen=True)
class HeldOut:
    """One method's values scored at the held-out seeds."""

    objective: float  # mean val objective over the seeds (nan where a run diverged)
    forgets: float  # share of seeds where they forget (see FORGET_AT_MOST); nan where that is undefined


def forgets(metrics: dict[str, float], original: dict[str, float]) -> float:
    """1.0 where a model forgets on the validation side and keeps the original's utility, 0.0 where not, nan where
    the scenario has no forgotten val samples (random forgetting)."""
    if "acc_forget_test" not in metrics or "acc_retain_test" not in original:
        return math.nan
    return float(metrics["acc_forget_test"] <= FORGET_AT_MOST
                 and metrics["acc_retain_test"] >= original["acc_retain_test"] - RETAIN_WITHIN)


def heldout_scores(files: Sequence[Path], dataset: str, model: str, forget: str, seeds: Sequence[int],
                   data_root: Optional[str] = None, cache_dir: Optional[str] = None) -> dict[str, dict[str, HeldOut]]:
    """file -> method -> its values scored at `seeds`, for the methods in every file."""
    from unlearnbench import api
    from unlearnbench.core.method import METHODS
    from unlearnbench.execution.evaluate import objective_of, val_metrics
    from unlearnbench.execution.runner import apply_method
    from unlearnbench.tuning.tune import tuning_settings

    values = {str(path): read_values(path) for path in files}
    common = sorted(set.intersection(*(set(v) for v in values.values())))
    if not common:
        raise UserError("the files share no method: nothing to compare")
    settings = [tuning_settings(api.request(dataset=dataset, model=model, forget=forget, seed=seed,
                                            methods=["original"], data_root=data_root, cache_dir=cache_dir), 1)[0]
                for seed in seeds]
    originals = [val_metrics(s.setting.trained("original").model, s.setting, s.reference) for s in settings]
    scores: dict[str, dict[str, HeldOut]] = {name: {} for name in values}
    for method in common:
        for name, params in values.items():
            built = METHODS.get(method).from_params(params[method], model, dataset,
                                                    settings[0].setting.forget.scenario, "paper")
            objectives, forgot = [], []
            for tuning, original in zip(settings, originals):
                try:
                    metrics = val_metrics(apply_method(tuning.setting, built)[0], tuning.setting, tuning.reference)
                    objectives.append(objective_of(metrics, tuning.setting.forget.scenario, tuning.reference)[0])
                    forgot.append(forgets(metrics, original))
                except DivergedError:
                    objectives.append(math.nan)
                    forgot.append(0.0)
            scores[name][method] = HeldOut(statistics.fmean(objectives), statistics.fmean(forgot))
    return scores


def heldout_table(scores: dict[str, dict[str, HeldOut]], seeds: str) -> str:
    """The comparison as Markdown: per file the mean over methods, the methods where it scores lowest, and how many
    methods forget at most of the seeds."""
    names = list(scores)
    methods = list(next(iter(scores.values())))
    best = {m: min(scores[n][m].objective for n in names) for m in methods}
    rows = []
    for name in names:
        finite = [v.objective for v in scores[name].values() if math.isfinite(v.objective)]
        wins = sum(scores[name][m].objective == best[m] for m in methods)
        shares = [v.forgets for v in scores[name].values() if math.isfinite(v.forgets)]
        rows.append([f"`{name}`", f"{statistics.fmean(finite):.4f}" if finite else "-",
                     f"{wins} of {len(methods)}",
                     f"{sum(share > 0.5 for share in shares)} of {len(shares)}" if shares else "-",
                     str(len(methods) - len(finite))])
    header = ["values", f"mean val objective, seeds {seeds}", "methods where lowest (ties count for each)",
              f"methods that forget at most seeds (forget val <= {FORGET_AT_MOST:.0%}, retain val within "
              f"{RETAIN_WITHIN * 100:.0f} points)", "diverged"]
    return "\n".join(markdown_table(header, rows, left=(0,)))


def per_method_table(scores: dict[str, dict[str, HeldOut]]) -> str:
    """Each method's val objective and share of seeds where it forgets, one column pair per file (numbered)."""
    names = list(scores)
    header = ["method"] + [f"{head} ({i})" for i in range(1, len(names) + 1) for head in ("objective", "forgets")]
    rows = [[m] + [cell for n in names for cell in (f"{scores[n][m].objective:.4f}", _share(scores[n][m].forgets))]
            for m in scores[names[0]]]
    legend = [f"({i}) `{n}`" for i, n in enumerate(names, 1)]
    return "\n".join(markdown_table(header, rows, left=(0,)) + [""] + legend)


def _share(x: float) -> str:
    return f"{x:.0%}" if math.isfinite(x) else "-"


def main(argv: Optional[list[str]] = None) -> int:
    """Scores each file's values at the held-out seeds and prints the comparison."""
    parser = argparse.ArgumentParser(prog="python -m unlearnbench.devtools.heldout",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="shipped defaults or tuned-parameters files")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--model", default="mlp")
    parser.add_argument("--forget", default="0")
    parser.add_argument("--seeds", default="2000-2004", help="held-out seeds: a range or a list (default 2000-2004)")
    parser.add_argument("--data-root", help="folder holding torchvision datasets (MNIST)")
    parser.add_argument("--cache-dir", help="trained-model cache (default: ~/.cache/unlearnbench)")
    parser.add_argument("--per-method", action="store_true", help="also print each method's scores per file")
    args = parser.parse_args(argv)

    def compare() -> None:
        seeds = parse_seeds(args.seeds)
        scores = heldout_scores(args.files, args.dataset, args.model, args.forget, seeds, args.data_root,
                                args.cache_dir)
        print(heldout_table(scores, args.seeds))
        if args.per_method:
            print()
            print(per_method_table(scores))

    return exit_code("heldout", compare)


if __name__ == "__main__":
    sys.exit(main())
