"""The population report: per setting run with `--population`, F, the final score, KLOM, the ceiling, the ranking by
final score and a histogram of per-example epsilons, read from OUT/population/<setting>/."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from unlearnbench.metrics.challenge import EPSILON_CAP
from unlearnbench.reports.figures import style, svg_of
from unlearnbench.reports.html import template_environment
from unlearnbench.reports.table import grid, markdown_table


def population_notes(method: str, size: int, deterministic: bool, failures: list[str]) -> list[str]:
    """The flags a method's population row carries: deterministic under the challenge protocol, failed members."""
    notes = []
    if deterministic:
        notes.append(f"{method}: deterministic under the challenge protocol (one model {size} times): the range rule "
                     f"gives it no credit; compare with --protocol seeds")
    if failures:
        notes.append(f"{method}: {len(failures)} member(s) failed and are left out ({failures[0]})")
    return notes


CEILING = "retrain_independent (ceiling)"
CEILING_NOTE = ("the ceiling is an independently retrained population scored the same way (the best F attainable at "
                "this N)")
SCORE_NOTE = ("F: the challenge's bucketed mean of per-example epsilons; final score: F x (RA_U / RA_R) x "
              "(TA_U / TA_R); brackets: 95 % bootstrap over forget examples; rank groups by final score (paired "
              "t-tests over forget examples, Holm-corrected); KLOM: KL(retrained || unlearned) of per-example margin "
              "distributions, median / 95th percentile.")
COLUMNS = (("rank", "rank"), ("method", "method"), ("defaults", "defaults"), ("members ok", "ok"),
           ("F [95 % bootstrap]", "f"), ("final score [95 %]", "final"), ("KLOM forget p50 / p95", "klom_forget"),
           ("KLOM retain p50", "klom_retain"), ("KLOM val p50", "klom_val"), ("retain acc", "retain_acc"),
           ("test acc", "test_acc"), ("undetermined", "undetermined"))
KLOM_FIELDS = ("klom_forget_p50", "klom_forget_p95", "klom_retain_p50", "klom_val_p50")
POPULATION_FIELDS = ("population_size", "protocol", "members_ok", "forget_quality", "forget_quality_lo",
                     "forget_quality_hi", "challenge_score", "challenge_score_lo", "challenge_score_hi", *KLOM_FIELDS,
                     "population_retain_acc", "population_test_acc", "undetermined")


def _interval(value: float, bounds: Sequence[float]) -> str:
    return f"{value:.4f} [{bounds[0]:.4f}, {bounds[1]:.4f}]" if math.isfinite(value) else "-"


def _klom(values: dict[str, float], part: str, both: bool = False) -> str:
    p50, p95 = values.get(f"klom_{part}_p50"), values.get(f"klom_{part}_p95")
    if p50 is None or not math.isfinite(p50):
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


def read_summary(folder: Path) -> dict[str, Any]:
    """The summary.json a population run wrote to `folder`."""
    return json.loads((folder / "summary.json").read_text())


def population_folders(out: Path) -> list[Path]:
    """Every setting's population folder under OUT/population, in name order."""
    return sorted(p.parent for p in (Path(out) / "population").glob("*/summary.json"))


def _ranked(summary: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(summary["methods"], key=lambda m: (m["rank"] or math.inf, -m["challenge_score"]))


def population_rows(summary: dict[str, Any]) -> list[dict[str, str]]:
    """The table's rows as text cells keyed like COLUMNS: the ceiling first, then the methods by rank."""
    return [{"rank": str(r["rank"] or "-"), "method": r["method"], "defaults": r["defaults"] or "-",
             "ok": f"{r['members_ok']}/{r['population_size']}",
             "f": _interval(r["forget_quality"], (r["forget_quality_lo"], r["forget_quality_hi"])),
             "final": _interval(r["challenge_score"], (r["challenge_score_lo"], r["challenge_score_hi"])),
             "klom_forget": _klom(r, "forget", both=True), "klom_retain": _klom(r, "retain"),
             "klom_val": _klom(r, "val"), "retain_acc": _percent(r["population_retain_acc"]),
             "test_acc": _percent(r["population_test_acc"]), "undetermined": str(r["undetermined"])}
            for r in summary_records(summary)]


def summary_notes(summary: dict[str, Any]) -> list[str]:
    """The flags of every method row (deterministic, failed members), for class-like forgetting what F means, and
    what the run cost."""
    notes = [note for m in _ranked(summary)
             for note in population_notes(m["method"], summary["size"], m["deterministic"], m["failures"])]
    if summary.get("scenario") in ("class", "subclass"):
        notes.append(f"The challenge defined F for sample forgetting; in {summary['scenario']} forgetting it is "
                     f"computed the same way.")
    return notes + ([cost_note(summary)] if summary.get("cost") else [])


def population_title(summary: dict[str, Any]) -> str:
    """The setting a population was run on, as a heading."""
    return (f"{summary['dataset']} / {summary['model']}, forget {summary['forget']}, seed {summary['seed']}: "
            f"N = {summary['size']}, protocol {summary['protocol']}")


def summary_records(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """One record per row of a stored population, the ceiling first, then the methods by rank: the numbers of
    POPULATION_FIELDS plus `setting`, `role`, `rank`, `method` and `defaults`."""
    ceiling, size = summary["ceiling"], summary["size"]
    entries = [("ceiling", "", CEILING, "", size, ceiling["forget_quality"], ceiling["forget_quality_interval"],
                ceiling["final_score"], ceiling["final_score_interval"], ceiling.get("klom", {}), float("nan"),
                float("nan"), ceiling["undetermined"])]
    entries += [("population", m["rank"] or "", m["method"], m.get("defaults", ""), m["ok"], m["forget_quality"],
                 m["forget_quality_interval"], m["challenge_score"], m["challenge_score_interval"], m["klom"],
                 m["retain_acc"], m["test_acc"], m["undetermined"]) for m in _ranked(summary)]
    return [{"setting": population_title(summary), "role": role, "rank": rank, "method": method, "defaults": defaults,
             "population_size": size, "protocol": summary["protocol"], "members_ok": ok,
             "forget_quality": f, "forget_quality_lo": f_iv[0], "forget_quality_hi": f_iv[1],
             "challenge_score": score, "challenge_score_lo": score_iv[0], "challenge_score_hi": score_iv[1],
             **{k: klom.get(k, float("nan")) for k in KLOM_FIELDS},
             "population_retain_acc": retain, "population_test_acc": test, "undetermined": undetermined}
            for role, rank, method, defaults, ok, f, f_iv, score, score_iv, klom, retain, test, undetermined in entries]


def population_records(out: Path) -> list[dict[str, Any]]:
    """The records of every population stored under OUT/population: the population part of the CSV leaderboard."""
    return [record for folder in population_folders(out) for record in summary_records(read_summary(folder))]


def cost_note(summary: dict[str, Any]) -> str:
    """What the population run cost, as stored with it (empty for a summary written before costs were kept)."""
    cost = summary.get("cost")
    if not cost:
        return ""
    spread = f", members spread over {cost['workers']} {cost['backend']} workers" if cost["workers"] > 1 else ""
    return (f"Run cost: {cost['wall_seconds']:.0f} s of wall clock, {cost['peak_memory_bytes'] / 1e9:.2f} GB peak "
            f"memory of the driving process; {cost['members_trained']} of the {cost['members_needed']} reference "
            f"members trained in this run, the rest loaded from the model cache; {cost['device']}, "
            f"{cost['threads']} threads{spread}; unlearnbench {cost['version']}, {cost['date']}.")


def population_text(folder: Path) -> str:
    """One setting's population table as fixed-width text, as `run --population` prints it."""
    summary = read_summary(folder)
    lines = grid([header for header, _ in COLUMNS], [[row[key] for _, key in COLUMNS]
                                                     for row in population_rows(summary)])
    notes = summary_notes(summary)
    return "\n".join([f"forgetting quality F of the NeurIPS 2023 unlearning challenge, {population_title(summary)}; "
                      f"{CEILING_NOTE}", ""] + lines + ([""] + notes if notes else []))


def population_markdown(out: Path) -> list[str]:
    """A Markdown section per stored population under OUT/population (no lines when there is none)."""
    lines: list[str] = []
    for folder in population_folders(out):
        summary = read_summary(folder)
        lines += ["", f"### Population: {population_title(summary)}", ""]
        lines += markdown_table([header for header, _ in COLUMNS],
                                [[row[key] for _, key in COLUMNS] for row in population_rows(summary)], left=(1, 2))
        lines += ["", f"{SCORE_NOTE} {CEILING_NOTE[0].upper()}{CEILING_NOTE[1:]}."]
        for note in summary_notes(summary):
            lines += ["", f"{note.rstrip('.')}."]
    return lines


def setting_view(folder: Path) -> dict[str, Any]:
    """What the templates show for one setting's population folder: its title, rows, notes and epsilon histogram."""
    summary = read_summary(folder)
    epsilons: dict[str, np.ndarray] = {}
    for m in _ranked(summary):
        raw = folder / f"{m['method']}.npz"
        if raw.exists():
            with np.load(raw) as data:
                if "epsilons" in data:
                    epsilons[m["method"]] = data["epsilons"]
                    epsilons.setdefault(CEILING, data["ceiling_epsilons"])
    return {"title": population_title(summary), "rows": population_rows(summary),
            "notes": summary_notes(summary),
            "histogram": epsilon_histogram(epsilons, summary["size"]) if epsilons else ""}


def render_population_report(root: Path) -> str:
    """The HTML report of every population under `root` (OUT/population)."""
    return template_environment().get_template("population.html.j2").render(
        settings=[setting_view(folder) for folder in population_folders(root.parent)], columns=COLUMNS)


def write_population_report(root: Path) -> Path:
    """Writes OUT/population/report.html; returns its path."""
    target = root / "report.html"
    target.write_text(render_population_report(root), encoding="utf-8")
    return target
