"""The report's figures stay legible at 25 methods over 3 seeds: rows in ranking order, no tick labels overlapping."""
from __future__ import annotations

from itertools import combinations
from pathlib import Path

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from unlearnbench.api import results
from unlearnbench.reports.aggregate import aggregate
from unlearnbench.reports.figures import accuracy_bars, mia_bars, ranked_methods, style
from unlearnbench.reports.ranking import rank_setting

STORE = Path(__file__).parents[1] / "reports" / "examples" / "digits-mlp-all"  # 23 methods + 3 references, seeds 0-2


@pytest.fixture(scope="module")
def setting():
    (found,) = aggregate(results(STORE).rows)
    return found


def _overlapping(labels, renderer) -> list[tuple[str, str]]:
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in labels if t.get_visible() and t.get_text()]
    return [(a, b) for (a, box_a), (b, box_b) in combinations(boxes, 2) if box_a.overlaps(box_b)]


@pytest.mark.parametrize("draw", [accuracy_bars, mia_bars], ids=["concerns", "attacks"])
def test_no_two_tick_labels_overlap_at_25_methods(setting, draw):
    with style():
        figure = draw(setting)
        renderer = FigureCanvasAgg(figure).get_renderer()
        figure.draw(renderer)
        assert len(figure.axes[0].get_yticklabels()) == 25
        for ax in figure.axes:
            assert _overlapping(ax.get_yticklabels(), renderer) == []
            assert _overlapping(ax.get_xticklabels(), renderer) == []


def test_rows_follow_the_ranking_and_leave_the_retrained_model_to_the_lines(setting):
    rows = ranked_methods(setting)
    ranked = [r.result.label for r in rank_setting(setting).ranked]
    assert [m.label for m in rows][:len(ranked)] == ranked and "retrain" not in {m.label for m in rows}


def test_each_concern_has_its_own_panel(setting):
    with style():
        titles = [ax.get_title() for ax in accuracy_bars(setting).axes]
    assert titles == ["Forget", "Utility", "Privacy"]
