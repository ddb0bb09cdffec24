"""The HTML report in a real headless Chromium: loads cleanly, offline, with a row per method and every figure."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from helpers import EVIL, stored_row

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on PATH (Debian: apt-get install chromium)")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed: pip install -e '.[test]'")

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
METHODS = ("original", "retrain", "finetune", "unsir")


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """A report from a real run on the tiny dataset, one parameter carrying a script tag."""
    from unlearnbench.cli.main import main

    out = tmp_path_factory.mktemp("out")
    code = main(["run", "--dataset", "tiny", "--device", "cpu", "--recipe", "epochs=3", "--quiet",
                 "--methods", ",".join(METHODS), "--set", "unsir.noise_steps=3", "--out", str(out),
                 "--cache-dir", str(out / "cache")])
    assert code == 0
    return out / "report.html"


WIDTH = 1400  # the window the report must fit: the gap column visible without scrolling


def _open(report: Path, shot: Path | None = None) -> dict:
    seen: dict = {"errors": [], "failed": [], "requests": [], "dialogs": []}
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": WIDTH, "height": 900})
        page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: seen["errors"].append(str(e)))
        page.on("requestfailed", lambda r: seen["failed"].append(r.url))
        page.on("request", lambda r: seen["requests"].append(r.url))
        page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
        page.goto(report.as_uri(), wait_until="load")
        seen["rows"] = page.locator("table.results tbody tr").count()
        seen["figures"] = page.locator("figure.plot svg").count()
        seen["ranked"] = page.locator("[data-headline] table.ranking tbody tr td:nth-child(2)").all_inner_texts()
        seen["gap_right"] = page.locator('th[data-metric="retrain_gap"]').first.bounding_box()["x"] + \
            page.locator('th[data-metric="retrain_gap"]').first.bounding_box()["width"]
        seen["table_overflows"] = page.evaluate(
            "[...document.querySelectorAll('div.scroll')].some(d => d.scrollWidth > d.clientWidth)")
        seen["page_width"] = page.evaluate("document.documentElement.scrollWidth")
        seen["hidden_before"] = page.locator('th[data-metric="peak_mem"]').first.is_visible()
        if shot is not None:
            page.screenshot(path=str(shot), full_page=True)
        page.locator("button.more").first.click()
        seen["hidden_after"] = page.locator('th[data-metric="peak_mem"]').first.is_visible()
        page.locator("table.results tr.columns th", has_text="retrain gap").first.click()
        seen["sorted_first"] = page.locator("table.results tbody tr td:first-child").first.inner_text()
        browser.close()
    return seen


def test_report_loads_offline_without_errors_and_shows_everything(report, tmp_path):
    shot = Path(os.environ.get("UNLEARNBENCH_SCREENSHOT_DIR", tmp_path)) / "report.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    seen = _open(report, shot)
    assert seen["errors"] == [] and seen["failed"] == []
    assert seen["requests"] == [report.as_uri()]  # nothing but the file itself
    assert seen["rows"] == len(METHODS) and seen["figures"] == 4
    # The original is ranked with the methods; the retrained reference is not.
    assert sorted(t.split()[0] for t in seen["ranked"]) == ["finetune", "original", "unsir"]
    assert seen["gap_right"] <= WIDTH and not seen["table_overflows"] and seen["page_width"] <= WIDTH
    assert not seen["hidden_before"] and seen["hidden_after"]  # detail columns expand on demand
    assert seen["sorted_first"].startswith("retrain")  # sorting by gap puts the reference (gap 0) first
    assert shot.stat().st_size > 10_000


def test_twenty_five_methods_over_three_seeds_fit_the_window(tmp_path):
    from unlearnbench.reports.html import write_report

    extra = {"mia_entropy_auc": 0.6, "mia_svc_auc": 0.6, "mia_loss_auc": 0.5, "js_to_retrain": 0.1234,
             "act_dist_to_retrain": 0.4321, "weight_dist_to_retrain": 12.34, "acc_forget_train": 0.5,
             "acc_retain_train": 0.99}
    rows = [{**r, "metrics": {**r["metrics"], **extra}} for r in
            [stored_row("retrain", s, 0.0, 30.0) for s in range(3)]
            + [stored_row("original", s, 0.6, 0.0) for s in range(3)]
            + [stored_row(f"method_with_a_long_name_{i:02d}", s, 0.01 * i + 0.001 * s, 0.1 + i) for i in range(25)
               for s in range(3)]]
    seen = _open(write_report(rows, tmp_path / "many.html"), tmp_path / "many.png")
    assert seen["errors"] == [] and len(seen["ranked"]) == 26  # and the original
    assert seen["ranked"][0].startswith("method_with_a_long_name_00")
    assert seen["gap_right"] <= WIDTH and not seen["table_overflows"] and seen["page_width"] <= WIDTH


def test_script_in_untrusted_text_never_runs(tmp_path):
    from unlearnbench.reports.html import write_report

    path = write_report([stored_row("unsir", 0, 0.1, params={"note": EVIL}, dataset=EVIL),
                         stored_row("retrain", 0, 0.0, dataset=EVIL),
                         stored_row("retrain", 0, 0.0, status="failed", error=EVIL)], tmp_path / "evil.html")
    seen = _open(path)
    assert seen["dialogs"] == [] and seen["errors"] == []
