"""The population report: per setting run with `--population`, F, the final score, KLOM, the ceiling, the ranking by
final score and a histogram of per-example epsilons, read from OUT/population/<setting>/."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from unlearnbench.metrics.challenge import EPSILON_CAP
from unlearnbench.reports.figures import style, svg_of
from unlearnbench.reports.html import template_environment


def population_notes(method: str, size: int, deterministic: bool, failures: list[str]) -> list[str]:
    """The flags a method's population row carries: deterministic under the challenge protocol, failed members."""
    notes = []
    if deterministic:
        notes.append(f"{method}: deterministic under the challenge protocol (one model {size} times): the range rule "
                     f"gives it no credit; compare with --protocol seeds")
    if failures:
        notes.append(f"{method}: {len(failures)} member(s) failed and are left out ({failures[0]})")
    return notes


def _interval(value: float, bounds: list[float]) -> str:
    return f"{value:.4f} [{bounds[0]:.4f}, {bounds[1]:.4f}]" if math.isfinite(value) else "-"


def _klom(values: dict[str, float], part: str, both: bool = False) -> str:
    p50, p95 = values.get(f"klom_{part}_p50"), values.get(f"klom_{part}_p95")
    if p50 is None:
        return "-"
    return f"{p50:.3f} / {p95:.3f}" if both else f"{p50:.3f}"


def _percent(value: float) -> str:
    return f"{100 * value:.2f} %" if math.isfinite(value) else "-"


def epsilon_histogram(epsilons: dict[str, np.ndarray], size: int) -> str:
    """Per-example epsilons of every population as overlaid step histograms (an inline SVG)."""
    import matplotlib.pyplot as plt

    top = max(1.0, math.ceil(math.log(size - 1)))
    edges = np.append(np.arange(0, top + 0.5, 0.5), [EPSILON_CAP + 1])
    with style():
        figure, axis = plt.subplots(figsize=(7, 3.2))
        for name, eps in epsilons.items():
            finite = np.nan_to_num(eps, nan=EPSILON_CAP)
            counts, _ = np.histogram(finite, bins=edges)
            axis.step(np.arange(len(counts)), counts / max(1, len(eps)), where="mid", label=name,
                      linewidth=2.2 if name.endswith("(ceiling)") else 1.2)
        axis.set_xticks(np.arange(len(edges) - 1),
                        [f"{a:g}-{b:g}" if b <= top else f">= {a:g}" for a, b in zip(edges[:-1], edges[1:])],
                        rotation=45, ha="right")
        axis.set_xlabel("epsilon bucket")
        axis.set_ylabel("share of forget examples")
        axis.legend(fontsize=7, ncol=2)
        figure.tight_layout()
        return svg_of(figure)


def setting_view(folder: Path) -> dict[str, Any]:
    """What the template shows for one setting's population folder."""
    summary = json.loads((folder / "summary.json").read_text())
    size, ceiling = summary["size"], summary["ceiling"]
    methods = sorted(summary["methods"], key=lambda m: (m["rank"] or math.inf, -m["challenge_score"]))
    epsilons: dict[str, np.ndarray] = {}
    notes = []
    for m in methods:
        raw = folder / f"{m['method']}.npz"
        if raw.exists():
            with np.load(raw) as data:
                if "epsilons" in data:
                    epsilons[m["method"]] = data["epsilons"]
                    epsilons.setdefault("retrain_independent (ceiling)", data["ceiling_epsilons"])
        notes += population_notes(m["method"], size, m["deterministic"], m["failures"])
    rows = [{"rank": m["rank"] or "-", "method": m["method"],
             "f": _interval(m["forget_quality"], m["forget_quality_interval"]),
             "final": _interval(m["challenge_score"], m["challenge_score_interval"]),
             "klom_forget": _klom(m["klom"], "forget", both=True), "klom_retain": _klom(m["klom"], "retain"),
             "klom_val": _klom(m["klom"], "val"), "retain_acc": _percent(m["retain_acc"]),
             "test_acc": _percent(m["test_acc"]), "ok": f"{m['ok']}/{m['size']}", "undetermined": m["undetermined"]}
            for m in methods]
    klom = ceiling.get("klom", {})
    return {"title": f"{summary['dataset']} / {summary['model']}, forget {summary['forget']}, seed {summary['seed']}",
            "size": size, "protocol": summary["protocol"], "scenario": summary.get("scenario", ""),
            "ceiling": {"f": _interval(ceiling["forget_quality"], ceiling["forget_quality_interval"]),
                        "final": _interval(ceiling["final_score"], ceiling["final_score_interval"]),
                        "klom_forget": _klom(klom, "forget", both=True), "klom_retain": _klom(klom, "retain"),
                        "klom_val": _klom(klom, "val"), "undetermined": ceiling["undetermined"]},
            "methods": rows, "notes": notes,
            "histogram": epsilon_histogram(epsilons, size) if epsilons else ""}


def render_population_report(root: Path) -> str:
    """The HTML report of every population under `root` (OUT/population)."""
    folders = sorted(p.parent for p in root.glob("*/summary.json"))
    return template_environment().get_template("population.html.j2").render(
        settings=[setting_view(folder) for folder in folders])


def write_population_report(root: Path) -> Path:
    """Writes OUT/population/report.html; returns its path."""
    target = root / "report.html"
    target.write_text(render_population_report(root), encoding="utf-8")
    return target
