"""Chooses (or re-checks) a method's per-model defaults on the validation split, never the test split.

For a method and a (dataset, model) pair, runs the method over a small grid for forget {0} and {0, 2} (seed 0) and
prints each configuration's accuracy on the retained and the forgotten classes' validation samples. The rule that
picks a configuration: forgotten classes at most 5 % on val (the retrained model's level is 0) and retain-val
within 10 points of the original's (the issue's "wrecked" line), then the highest mean retain-val accuracy over
both forget sets; a configuration that fails (diverges) is out. Where none forgets to 5 % (methods that only
fade the forget set, like fine-tuning), the lowest worst forget-val within the 10 retain points wins.

Usage: python tests/benchmarks/defaults_on_val.py METHOD [PAIR ...] [--data-root DIR]
       e.g. unsir digits/mlp digits/cnn mnist/mlp; neggrad_plus mnist/mlp
"""
from __future__ import annotations

import argparse
import itertools
import sys

import torch

import unlearnbench  # noqa: F401  (sets the OpenMP wait policy before torch work)
from unlearnbench.core.errors import DivergedError
from unlearnbench.core.method import METHODS
from unlearnbench.execution.runner import RunRequest, apply_method, prepare_setting, setting_threads
from unlearnbench.models.inference import predict

GRIDS = {  # method -> pair -> the grid its README defaults were chosen from
    "unsir": {
        "digits/mlp": {"impair_lr": [0.02, 0.008], "repair_lr": [0.01, 0.002], "repair_epochs": [1, 8]},
        "digits/cnn": {"impair_lr": [0.02, 0.008, 0.004], "repair_lr": [0.01, 0.002], "repair_epochs": [1, 8]},
        "mnist/mlp": {"impair_lr": [0.02, 0.008], "repair_lr": [0.01, 0.002], "repair_epochs": [1]},
    },
    "neggrad_plus": {"mnist/mlp": {"lr": [0.01, 0.001], "alpha": [0.95, 0.99], "epochs": [1, 3]}},
    "bad_teacher": {"mnist/mlp": {"lr": [1e-4, 1e-3], "epochs": [1, 2, 3]}},
    # SCRUB's max steps are an unbounded ascent like NegGrad+'s: the first grid (lr 5e-4 / 5e-3 / 5e-2 x epochs 3 / 6
    # x msteps 2 / 5) found only "no forgetting", "retain collapse" or divergence; this finer one brackets the cliff.
    "scrub": {"mnist/mlp": {"lr": [5e-4, 1e-3, 2e-3], "epochs": [3], "msteps": [2, 3]}},
    "boundary_shrink": {"mnist/mlp": {"lr": [1e-5, 1e-4, 1e-3, 1e-2], "epsilon": [0.1, 0.3]}},
    "boundary_expanding": {"mnist/mlp": {"lr": [1e-5, 1e-4, 1e-3, 1e-2]}},
    # Epoch counts below retraining's 8 (the issue's "never slower than retraining"); the authors' 10 epochs
    # were 5 % of a 182-epoch CIFAR-10 training, more than the whole MNIST/mlp recipe.
    "finetune": {"mnist/mlp": {"epochs": [2, 3, 5]}},
    "l1_sparse": {"mnist/mlp": {"epochs": [2, 3, 5]}},
    "random_labels": {"mnist/mlp": {"lr": [0.013, 0.005], "epochs": [2, 3, 5]}},
    "salun": {"mnist/mlp": {"lr": [0.013, 0.005], "epochs": [2, 3, 5]}},
    # JiT's VGG16 rate wrecks an MLP (MNIST/mlp retain-test 36.6 %); LoTUS's leaves half the class (51.8 %).
    "jit": {"mnist/mlp": {"lr": [1e-4, 3e-5, 1e-5, 3e-6, 1e-6, 3e-7], "sigma": [0.5, 0.1]},
            "mnist/cnn": {"lr": [1e-5, 3e-6, 1e-6], "sigma": [0.5]}},  # VGG16's 3e-4: cnn retain-test 10 %
    "lotus": {"mnist/mlp": {"lr": [1e-4, 3e-4, 1e-3, 3e-3]}},
}
FORGETS = ("0", "0,2")
MAX_FORGET_VAL = 0.05
MAX_RETAIN_DROP = 0.10  # below the original's retain-val accuracy


def val_accuracies(name: str, pair: str, forget: str, params: dict, data_root: str | None) -> tuple[float, float]:
    """(retain-val, forget-val) accuracy of method `name` with `params` on `pair` forgetting `forget`, seed 0."""
    dataset, model = pair.split("/")
    request = RunRequest(dataset=dataset, model=model, forget=forget, seed=0, data_root=data_root, device="cpu")
    with setting_threads(request):
        setting = prepare_setting(request)
        method = METHODS.get(name).from_params({k: str(v) for k, v in params.items()}, model, dataset)
        unlearned, _, _ = apply_method(setting, method)
        data = setting.data
        right = predict(unlearned, data.x_val).argmax(1) == data.y_val
        forgotten = torch.isin(data.y_val, torch.tensor(setting.forget.classes, device=data.y_val.device))
    return right[~forgotten].float().mean().item(), right[forgotten].float().mean().item()


def main(argv: list[str]) -> int:
    """Prints the grid's validation accuracies and the configuration the rule picks, per pair."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("method", choices=sorted(GRIDS))
    parser.add_argument("pairs", nargs="*")
    parser.add_argument("--data-root")
    args = parser.parse_args(argv)
    for pair in args.pairs or list(GRIDS[args.method]):
        grid = GRIDS[args.method][pair]
        original = sum(val_accuracies("original", pair, f, {}, args.data_root)[0] for f in FORGETS) / len(FORGETS)
        print(f"{pair} original: retain-val {100 * original:.2f} %", flush=True)
        scored = []
        for values in itertools.product(*grid.values()):
            params = dict(zip(grid, values))
            shown = " ".join(f"{k}={v:g}" for k, v in params.items())
            try:
                results = [val_accuracies(args.method, pair, f, params, args.data_root) for f in FORGETS]
            except DivergedError as exc:
                print(f"{pair} {shown}: {exc}", flush=True)
                continue
            retain = sum(r for r, _ in results) / len(results)
            forget = max(f for _, f in results)
            scored.append((params, retain, forget))
            print(f"{pair} {shown}: retain-val {100 * retain:.2f} %, worst forget-val {100 * forget:.2f} %",
                  flush=True)
        kept = [s for s in scored if s[1] >= original - MAX_RETAIN_DROP]
        eligible = [s for s in kept if s[2] <= MAX_FORGET_VAL]
        if eligible:
            print(f"{pair}: chosen on val -> {max(eligible, key=lambda s: s[1])[0]}\n", flush=True)
        elif kept:
            print(f"{pair}: none forgets to <= 5 %; the lowest forget-val within 10 retain points -> "
                  f"{min(kept, key=lambda s: s[2])[0]}\n", flush=True)
        else:
            print(f"{pair}: none keeps retain-val within 10 points\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
