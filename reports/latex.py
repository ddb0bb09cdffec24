"""A booktabs LaTeX table per setting, best value per column in bold."""
from __future__ import annotations

import math
import re
from typing import Any, Sequence

from unlearnbench.reports.aggregate import MethodResult, SettingResult, aggregate

# (metric, header, scale, digits, better): "closer" means closest to the retrained model.
TABLE_COLUMNS = (
    ("acc_forget_test", r"$\mathcal{D}_f$ test acc.", 100, 2, "closer"),
    ("acc_retain_test", r"$\mathcal{D}_r$ test acc.", 100, 2, "closer"),
    ("acc_test", "test acc.", 100, 2, "closer"),
    ("mia_entropy", "MIA ent.", 1, 3, "closer"),
    ("mia_svc", "MIA SVC", 1, 3, "closer"),
    ("mia_loss", "MIA loss", 1, 3, "closer"),
    ("retrain_gap", "gap", 1, 4, "lower"),
    ("time_s", "seconds", 1, 3, "lower"),
)
ENDPOINTS = ("original", "retrain")  # reference rows: shown, never bolded
_SPECIAL = re.compile(r"([&%$#_{}])")


def latex_escape(text: str) -> str:
    """Escapes LaTeX's special characters in plain text."""
    text = text.replace("\\", r"\textbackslash{}").replace("~", r"\textasciitilde{}").replace("^", r"\^{}")
    return _SPECIAL.sub(r"\\\1", text)


def _value(m: MethodResult, name: str) -> float:
    stat = m.time if name == "time_s" else m.metrics.get(name)
    return stat.mean if stat is not None else math.nan


def _best(setting: SettingResult, name: str, better: str) -> float:
    """The best value among the unlearning methods (original and retrain are the endpoints, not contestants)."""
    reference = setting.reference
    candidates = [m for m in setting.methods if m.method not in ENDPOINTS and math.isfinite(_value(m, name))]
    if not candidates:
        return math.nan
    if better == "closer" and reference is not None:
        target = _value(reference, name)
        return _value(min(candidates, key=lambda m: abs(_value(m, name) - target)), name)
    return min(_value(m, name) for m in candidates)


def setting_table(setting: SettingResult) -> str:
    """One `table` environment for a setting."""
    columns = [c for c in TABLE_COLUMNS if any(math.isfinite(_value(m, c[0])) for m in setting.methods)]
    best = {c[0]: _best(setting, c[0], c[4]) for c in columns}
    lines = [r"\begin{table}[t]", r"\centering", r"\small",
             r"\begin{tabular}{l" + "r" * len(columns) + "}", r"\toprule",
             "Method & " + " & ".join(c[1] for c in columns) + r" \\", r"\midrule"]
    for m in setting.methods:
        cells = []
        for name, _, scale, digits, _ in columns:
            stat = m.time if name == "time_s" else m.metrics.get(name)
            if stat is None or not math.isfinite(stat.mean):
                cells.append("--")
                continue
            text = f"{stat.mean * scale:.{digits}f}"
            if stat.n > 1 and math.isfinite(stat.half_width):
                text += rf"$\pm${stat.half_width * scale:.{digits}f}"
            is_best = m.method not in ENDPOINTS and math.isclose(stat.mean, best[name], rel_tol=0, abs_tol=1e-12)
            mark = "$^*$" if name == "time_s" and m.time_reused else ""
            cells.append((rf"\textbf{{{text}}}" if is_best else text) + mark)
        label = latex_escape(m.label) + (r"$^\dagger$" if m.zero_glance and m.method not in ENDPOINTS
                                         else "")
        lines.append(label + " & " + " & ".join(cells) + r" \\")
    seeds = len(setting.seeds)
    caption = (f"{latex_escape(setting.title)}. Mean over {seeds} seed{'s' if seeds != 1 else ''}"
               + (r" $\pm$ 95\,\% CI" if seeds > 1 else "") + ". Accuracies in \\%. Bold: closest to retrain "
               r"(gap, seconds: lowest) among the methods. $^\dagger$: zero-glance."
               + (r" $^*$: seconds reused from the cached retrained model's training, measured in an earlier run."
                  if any(m.time_reused for m in setting.methods) else ""))
    lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{caption}}}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def latex_tables(rows: Sequence[dict[str, Any]]) -> str:
    """Every setting's table (needs \\usepackage{booktabs})."""
    return "\n".join(setting_table(s) for s in aggregate(rows))
