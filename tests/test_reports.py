"""Reports rendered from the store: HTML content and escaping, leaderboard, LaTeX, figure files."""
from __future__ import annotations

import csv
import io
import math
import re

import pytest

from helpers import EVIL, stored_row
from unlearnbench.reports.aggregate import aggregate, mean_ci
from unlearnbench.reports.figures import pareto_scatter, phase_bars
from unlearnbench.reports.html import closeness, render_report, setting_view
from unlearnbench.reports.latex import latex_escape, latex_tables
from unlearnbench.reports.leaderboard import leaderboard_csv, leaderboard_markdown
from unlearnbench.reports.paper import write_figures
from unlearnbench.reports.ranking import pareto_front, rank_setting

ROWS = ([stored_row("retrain", s, 0.0, 10.0) for s in (0, 1, 2)]
        + [stored_row("unsir", s, 0.1 + 0.01 * s, 0.5) for s in (0, 1, 2)])


def test_mean_and_t_interval_over_seeds():
    stat = mean_ci([1.0, 2.0, 3.0])
    assert stat.mean == 2.0 and stat.n == 3
    assert stat.half_width == pytest.approx(4.302653 * 1.0 / math.sqrt(3), rel=1e-5)
    assert math.isnan(mean_ci([5.0]).half_width)


def test_rerun_of_a_cell_replaces_rather_than_double_counts():
    rerun = {**stored_row("unsir", 0, 0.5, 0.5), "id": 99}
    (setting,) = aggregate(ROWS + [rerun])
    unsir = next(m for m in setting.methods if m.method == "unsir")
    assert unsir.seeds == [0, 1, 2] and unsir.metrics["retrain_gap"].mean == pytest.approx((0.5 + 0.11 + 0.12) / 3)


def test_report_has_setting_table_ci_reference_access_and_figures():
    html = render_report(ROWS + [stored_row("gradient_ascent", 0, 0, status="failed", error="diverged: boom",
                                            access=("forget",))])
    assert "tiny / mlp, forget {0}" in html and "&plusmn;" in html
    assert re.search(r'<span class="ref">retrain 0\.00%</span>', html)
    assert "zero-glance" in html and "diverged: boom" in html
    assert html.count("<svg") == 4 and not re.search(r'(src|href)="(https?:)?//', html)
    assert "mia_loss: no signal in this setting" in html


def test_untrusted_text_is_escaped_everywhere():
    evil = stored_row("unsir", 0, 0.1, params={"note": EVIL}, dataset=EVIL)
    failed = stored_row(EVIL.replace("<", "").replace(">", "").replace("'", "").replace("(", "").replace(")", ""),
                        1, 0, status="failed", error=EVIL)
    html = render_report([evil, failed])
    assert EVIL not in html and "&lt;script&gt;" in html
    assert html.count("<script>") == 1  # only the page's own sorting script


def test_figures_drop_label_comments_that_could_close_early():
    html = render_report([stored_row("x-->" + EVIL, 0, 0.1)])
    assert EVIL not in html


def test_pareto_front_keeps_only_undominated_points():
    points = [(1.0, 0.5), (2.0, 0.2), (3.0, 0.3), (0.5, 0.9), (4.0, 0.0)]
    assert pareto_front(points) == [3, 0, 1, 4]


def test_leaderboard_ranks_the_original_with_the_methods_and_keeps_the_retrained_reference_apart():
    md = leaderboard_markdown(ROWS + [stored_row("original", s, 0.5, 0.0) for s in (0, 1, 2)])
    ranked = [line for line in md.splitlines() if re.match(r"\| \d+=? \|", line)]
    assert len(ranked) == 2 and ranked[0].startswith("| 1 | unsir | - | 0.1100 ± ")  # "-": rows before defaults
    assert ranked[0].rstrip().endswith("| ok 3/3 | yes | yes |")  # three seeds ok; zero-glance; Pareto-optimal
    assert ranked[1].startswith("| 2 | original | - | 0.5000")
    assert "Reference row, not ranked: retrain: retrain gap 0.0000" in md
    header, first, second = list(csv.reader(io.StringIO(leaderboard_csv(ROWS))))
    assert header[:13] == ["setting", "gap_definition", "role", "rank", "method", "version", "pareto", "seeds_ok",
                           "seeds", "zero_glance", "retrain_gap", "retrain_gap_lo", "retrain_gap_hi"]
    assert first[2:5] == ["method", "1", "unsir"] and second[2:5] == ["reference", "", "retrain"]


def test_the_pareto_mark_goes_to_methods_nothing_beats_on_both_gap_and_seconds():
    rows = (ROWS + [stored_row("fast_bad", s, 0.3, 0.1) for s in (0, 1, 2)]
            + [stored_row("slow_bad", s, 0.4, 5.0) for s in (0, 1, 2)])
    ranking = rank_setting(aggregate(rows)[0])
    assert [(r.result.label, r.rank, r.pareto) for r in ranking.ranked] == [
        ("unsir", 1, True), ("fast_bad", 2, True), ("slow_bad", 3, False)]
    assert [m.label for m in ranking.references] == ["retrain"]


def test_report_headline_ranks_before_the_table_without_badging_references():
    html = render_report(ROWS + [stored_row("original", s, 0.5, 0.0) for s in (0, 1, 2)])
    headline = html[html.index("data-headline"):html.index('<table class="results')]
    assert ('<tr data-rank="1" class="method"><td>1</td><td>unsir <span class="muted">ok 3/3</span> '
            '<span class="pareto"') in headline
    assert '<tr data-rank="2" class="original"><td>2</td><td>original' in headline
    assert "Reference row, not ranked: <b>retrain</b>" in headline
    table = html[html.index('<table class="results'):]
    retrain_row = table[table.index('<tr class="reference">'):].split("</tr>")[0]
    assert "zero-glance" not in retrain_row and 'class="badge role">retrained' in retrain_row


def test_report_table_leads_with_the_gap_and_hides_detail_columns_until_asked():
    html = render_report(ROWS)
    headers = re.findall(r'data-metric="(\w+)"', html)
    assert headers[:6] == ["retrain_gap", "gap_forget", "gap_utility", "gap_privacy", "time_s", "speedup_vs_retrain"]
    hidden = ("gap_forget", "gap_utility", "gap_privacy", "mia_entropy_auc", "mia_svc_auc", "mia_loss_auc", "peak_mem")
    assert all(f'data-metric="{name}" class="detail"' in html for name in hidden)  # the headline shows the parts
    assert f"show {len(hidden)} more columns" in html


def test_a_cells_colour_says_how_close_it_is_to_the_retrained_model():
    far = stored_row("unsir", 0, 0.9)  # acc_forget_test 0.9 against retrain's 0.0: fully far
    near = stored_row("gradient_ascent", 0, 0.0)
    (setting,) = aggregate([stored_row("retrain", 0, 0.0, 10.0), far, near])
    view = setting_view(setting)
    column = next(c for c in view.columns if c.name == "acc_forget_test")
    by_label = {m.label: m for m in setting.methods}
    assert closeness(view, by_label["unsir"], column) == "background: hsl(0, 70%, 88%)"
    assert closeness(view, by_label["gradient_ascent"], column) == "background: hsl(120, 70%, 88%)"
    assert closeness(view, by_label["retrain"], column) == ""
    seconds = next(c for c in view.columns if c.name == "time_s")
    assert closeness(view, by_label["unsir"], seconds) == ""  # a cost, not a distance to retrain


def test_latex_table_bolds_the_best_contestant_and_escapes():
    rows = ROWS + [stored_row("gradient_ascent", s, 0.3, 0.1) for s in (0, 1, 2)]
    tex = latex_tables(rows)
    assert r"\toprule" in tex and r"\bottomrule" in tex and "gradient\\_ascent" in tex
    unsir_line = next(line for line in tex.splitlines() if line.startswith("unsir"))
    assert r"\textbf{0.1100$\pm$" in unsir_line  # the smallest gap among the methods
    assert latex_escape("a_b&c%") == r"a\_b\&c\%"


def test_figures_command_writes_every_format(tmp_path):
    written = write_figures(ROWS, tmp_path)
    suffixes = sorted({p.suffix for p in written})
    assert suffixes == [".pdf", ".png", ".svg", ".tex"] and all(p.stat().st_size > 0 for p in written)
    assert b"/FontFile2" in next(p for p in written if p.suffix == ".pdf").read_bytes()  # TrueType embedded


def test_phase_figure_stacks_each_methods_phases_in_its_own_order_on_a_linear_axis():
    row = {**stored_row("unsir", 0, 0.1, 0.6), "phases": {"noise": 0.3, "impair": 0.1, "repair": 0.2}}
    (setting,) = aggregate([stored_row("retrain", 0, 0.0, 10.0), row])
    ax = phase_bars(setting).axes[0]
    assert ax.get_xscale() == "linear"
    unsir_y = next(t.get_position()[1] for t in ax.get_yticklabels() if t.get_text() == "unsir")
    segments = sorted((p.get_x(), p.get_width()) for p in ax.patches if abs(p.get_y() + p.get_height() / 2 - unsir_y) < 1e-9)
    assert [w for _, w in segments] == pytest.approx([0.3, 0.1, 0.2])  # noise, impair, repair: not alphabetical
    right = ax.get_xlim()[1]
    assert all(t.get_position()[0] < right for t in ax.texts)  # totals sit inside the axes


def test_pareto_figure_ticks_are_plain_numbers_not_raw_mathtext():
    # Regression: with mathtext off (labels are stored text), log ticks printed as "$\mathdefault{10^{-1}}$".
    (setting,) = aggregate(ROWS + [stored_row("fast", 0, 0.3, 0.05)])
    fig = pareto_scatter(setting)
    fig.canvas.draw()
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels() if t.get_text()]
    assert labels and not any("$" in text for text in labels)


def test_latex_speedups_use_math_mode_signs():
    tex = latex_tables(ROWS + [stored_row("original", 0, 0.5, 1e-6)])
    assert r"20.0$\times$" in tex and r"$>10^4\times$" in tex and ">1e4x" not in tex
