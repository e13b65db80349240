"""The report in a real browser: headless Debian Chromium (via selenium and Debian's chromedriver) opens
results/report.html of the shared tiny run, with no console errors, every image decoded, the DAG picture and the
tables present; a screenshot is saved beside the report (results/report_screenshot.png)."""

from __future__ import annotations

import os
import shutil

import pytest

from reanalysis.dag import DPI

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def _missing() -> str:
    absent = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if absent:
        return f"{' and '.join(absent)} not found: apt-get install -y chromium chromium-driver (as .ci/run does)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (see requirements.lock)"
    return ""


@pytest.fixture(scope="module")
def browser():
    why = _missing()
    if why:
        if os.environ.get("CI"):  # CI installs the browser: a skip there would hide a broken set-up
            pytest.fail(why)
        pytest.skip(why)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # both paths given: selenium never tries to download a browser or driver
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def test_report_renders_in_chromium(audit_run, browser):
    report = audit_run / "results" / "report.html"
    browser.get(report.as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    assert browser.title.startswith("Therapeutic alliance and outcome")
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert not errors, f"console errors: {errors}"
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.id || i.alt, i.complete, i.naturalWidth, i.naturalHeight])"
    )
    assert len(images) >= 3, images
    broken = [i for i in images if not (i[1] and i[2] > 0 and i[3] > 0)]
    assert not broken, f"images that did not load: {broken}"
    dag = browser.execute_script(
        "const i = document.getElementById('dag-figure'); return i && [i.naturalWidth, i.getBoundingClientRect().width]"
    )
    assert dag and dag[0] > 800 and dag[1] > 300, f"DAG picture missing or too small: {dag}"
    n_tables = browser.execute_script("return document.querySelectorAll('table').length")
    assert n_tables >= 15, n_tables
    assert browser.find_element("id", "config-diff").is_displayed()
    # no table is wider than the page (hidden columns behind a sideways scroll are easy to miss), details opened
    wide = browser.execute_script(
        """document.querySelectorAll('details').forEach(d => { d.open = true; });
        return Array.from(document.querySelectorAll('.scroll')).filter(s => s.scrollWidth > s.clientWidth + 1)
        .map(s => [s.scrollWidth, s.clientWidth, (s.querySelector('table') || {}).id || s.textContent.slice(0, 60)]);"""
    )
    assert not wide, f"tables wider than the page at 1400 px: {wide}"
    browser.execute_script("document.querySelectorAll('details').forEach(d => { d.open = false; });")
    # clicking the DAG shows it at true size, 96 CSS pixels per inch of the PNG (CSS only: the report has no script)
    browser.execute_script("document.getElementById('dag-figure').scrollIntoView()")
    browser.find_element("id", "dag-figure").click()
    zoomed = browser.execute_script("return document.getElementById('dag-figure').getBoundingClientRect().width")
    assert zoomed == pytest.approx(dag[0] * 96 / DPI, abs=1), (zoomed, dag)
    browser.find_element("id", "dag-figure").click()
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1400, min(height, 16000))
    shot = audit_run / "results" / "report_screenshot.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 50_000
