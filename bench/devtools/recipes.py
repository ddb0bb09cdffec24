"""The default training recipes as a table, read from the code, with the original model's test accuracy where a
stored run has it.

    python -m unlearnbench.devtools.recipes [--store DIR ...]

docs/running.md's recipe table is this command's output, so it cannot drift from `unlearnbench.models.recipes`.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from unlearnbench.devtools import exit_code
from unlearnbench.models.recipes import Recipe, default_recipe, recipe_identity
from unlearnbench.reports.table import markdown_table

# The built-in (dataset, model) pairs a user runs: the embedded default, MNIST, and CIFAR-10 for a GPU.
PAIRS = (("digits", "mlp"), ("digits", "cnn"), ("mnist", "mlp"), ("mnist", "cnn"), ("cifar10", "resnet18"),
         ("cifar10", "allcnn"))
HEADER = ["dataset / model", "epochs", "peak lr", "batch", "optimiser", "schedule",
          "original's test accuracy (seed 0)"]


def _optimiser(recipe: Recipe) -> str:
    if recipe.optimizer != "sgd":
        return recipe.optimizer
    return (f"SGD{', Nesterov' if recipe.nesterov else ''} momentum {recipe.momentum:g}, "
            f"weight decay {recipe.weight_decay:g}")


def original_accuracies(stores: Sequence[Path]) -> dict[tuple[str, str], tuple[float, str]]:
    """(dataset, model) -> (test accuracy, store) of the first stored original, seed 0, trained with the default
    recipe, over `stores` in order."""
    from unlearnbench.api import results

    found: dict[tuple[str, str], tuple[float, str]] = {}
    for store in stores:
        for row in results(store).rows:
            pair = (row["dataset"], row["model"])
            default = recipe_identity(default_recipe(*pair))
            if (row["method"] == "original" and row["seed"] == 0 and row["status"] == "ok"
                    and row.get("recipe") == default and pair not in found):
                found[pair] = (row["metrics"]["acc_test"], str(store))
    return found


def recipe_table(stores: Sequence[Path]) -> str:
    """The Markdown table of every built-in pair's default recipe and its original's stored test accuracy."""
    accuracies = original_accuracies(stores)
    rows = []
    for pair in PAIRS:
        recipe = default_recipe(*pair)
        stored = accuracies.get(pair)
        accuracy = f"{100 * stored[0]:.2f} % (`{stored[1]}`)" if stored else "-"
        rows.append([f"{pair[0]} / {pair[1]}", str(recipe.epochs), f"{recipe.lr:g}", str(recipe.batch_size),
                     _optimiser(recipe), recipe.schedule, accuracy])
    return "\n".join(markdown_table(HEADER, rows, left=(0, 4, 5)) + [
        "", "Accuracies are read from the stores named in their cells ('-': none of them holds that original); the "
            "recipes from `unlearnbench.models.recipes`."])


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Prints the recipe table."""
    parser = argparse.ArgumentParser(prog="python -m unlearnbench.devtools.recipes", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", action="append", default=[], metavar="DIR",
                        help="a run's output folder to read the originals' test accuracy from (repeatable)")
    args = parser.parse_args(argv)
    return exit_code("recipes", lambda: print(recipe_table([Path(s) for s in args.store])))


if __name__ == "__main__":
    sys.exit(main())
