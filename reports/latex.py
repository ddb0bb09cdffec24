"""A booktabs LaTeX table per setting, best value per column in bold."""
from __future__ import annotations

import math
import re
from typing import Any, Sequence

from unlearnbench.metrics import DEFAULT_YARDSTICK, VALUES, MetricValue
from unlearnbench.metrics.base import SPEEDUP_CAP
from unlearnbench.reports.aggregate import MethodResult, SettingResult, aggregate

PAPER_TIERS = ("headline", "primary")  # the columns of a paper table; detail values stay in the HTML report
_SPECIAL = re.compile(r"([&%$#_{}])")


def latex_escape(text: str) -> str:
    """Escapes LaTeX's special characters in plain text."""
    text = text.replace("\\", r"\textbackslash{}").replace("~", r"\textasciitilde{}").replace("^", r"\^{}")
    return _SPECIAL.sub(r"\\\1", text)


def _value(m: MethodResult, name: str) -> float:
    stat = m.metrics.get(name)
    return stat.mean if stat is not None else math.nan


def _best(setting: SettingResult, value: MetricValue) -> float:
    """The best value among the unlearning methods (the reference rows are the endpoints, not contestants)."""
    name = value.name
    candidates = [m for m in setting.methods if m.role == "method" and math.isfinite(_value(m, name))]
    if not candidates:
        return math.nan
    reference = setting.reference
    if value.better == "closer_to_retrain":
        if reference is None or not math.isfinite(_value(reference, name)):
            return math.nan
        target = _value(reference, name)
        return _value(min(candidates, key=lambda m: abs(_value(m, name) - target)), name)
    pick = max if value.better == "higher" else min
    return pick(_value(m, name) for m in candidates)


def _number(value: MetricValue, x: float) -> str:
    """A number as the paper prints it: percentages without the sign (the caption says so)."""
    if value.unit == "speedup":  # math-mode signs: a bare '>' prints as an inverted '!' in LaTeX's OT1 fonts
        return r"$>10^4\times$" if x >= SPEEDUP_CAP else f"{x:.1f}$\\times$"
    return f"{100 * x:.{value.digits}f}" if value.unit == "percent" else value.format(x)


def setting_table(setting: SettingResult) -> str:
    """One `table` environment for a setting."""
    columns = [v for v in VALUES.select(tiers=PAPER_TIERS, scenario=setting.scenario)
               if any(math.isfinite(_value(m, v.name)) for m in setting.methods)]
    best = {v.name: _best(setting, v) for v in columns}
    lines = [r"\begin{table}[t]", r"\centering", r"\small",
             r"\begin{tabular}{l" + "r" * len(columns) + "}", r"\toprule",
             "Method & " + " & ".join(latex_escape(v.label) for v in columns) + r" \\", r"\midrule"]
    for m in setting.methods:
        cells = []
        for value in columns:
            stat = m.metrics.get(value.name)
            if stat is None or not math.isfinite(stat.mean):
                cells.append("--")
                continue
            text = _number(value, stat.mean)
            if stat.n > 1 and math.isfinite(stat.lo) and value.unit != "speedup":
                text += (rf" [{_number(value, stat.lo)}, {_number(value, stat.hi)}]" if stat.clipped
                         else rf"$\pm${_number(value, stat.half_width)}")
            is_best = m.role == "method" and math.isclose(stat.mean, best[value.name], rel_tol=0, abs_tol=1e-12)
            mark = "$^*$" if value.name == "time_s" and m.time_reused else ""
            cells.append((rf"\textbf{{{text}}}" if is_best else text) + mark)
        label = latex_escape(m.label) + (r"$^\dagger$" if m.zero_glance and m.role == "method" else "")
        lines.append(label + " & " + " & ".join(cells) + r" \\")
    seeds = len(setting.seeds)
    caption = (f"{latex_escape(setting.title)}. Mean over {seeds} seed{'s' if seeds != 1 else ''}"
               + (r" $\pm$ 95\,\% t-interval ([low, high] where the value's range clipped it)" if seeds > 1 else "")
               + f". Gaps: {latex_escape(setting.gap.title)} ({latex_escape(setting.gap.label)}). "
               + "Accuracies in \\%. Bold: best among the methods "
               r"(closest to retrain; lowest gap and seconds; highest speedup). $^\dagger$: zero-glance."
               + (r" $^*$: seconds reused from the cached retrained model's training, measured in an earlier run."
                  if any(m.time_reused for m in setting.methods) else ""))
    lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{caption}}}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def latex_tables(rows: Sequence[dict[str, Any]], gap: str = DEFAULT_YARDSTICK) -> str:
    """Every setting's table (needs \\usepackage{booktabs}), gaps under the definition `gap`."""
    return "\n".join(setting_table(s) for s in aggregate(rows, gap))
