"""report.html in a real headless Chromium (Selenium + the Debian chromium/chromedriver that
`make test` installs with apt-get): every image loads and decodes, the summary table has one
row per policy, and the page logs no console error. Skipped only where no browser is installed.

SAGSIM_CHROMIUM and SAGSIM_CHROMEDRIVER point the test at another Chromium and its driver.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import tempfile
from pathlib import Path

import pytest

from evaluate import main as evaluate_main

CHROMIUM = os.environ.get("SAGSIM_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SAGSIM_CHROMEDRIVER", "/usr/bin/chromedriver")
POLICIES = ("greedy", "random")
# Headless in a container with no outside network: without the background-networking
# flags Chromium's own connections hang on the closed network before timing out.
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--window-size=1280,1024",
)  # fmt: skip
PAGE_LOAD_TIMEOUT_S = 300  # a guard against a hang only

# Every <img> on the page: complete, with a natural size, and decoding without error
# (decode() rejects for an image the browser could not decode). Async: the callback is last.
IMAGE_CHECK_JS = """
const done = arguments[arguments.length - 1];
const imgs = Array.from(document.images);
Promise.allSettled(imgs.map((img) => img.decode())).then((results) => done(imgs.map(
    (img, i) => ({index: i, alt: img.alt, src: img.currentSrc.slice(0, 60),
                  complete: img.complete, width: img.naturalWidth, height: img.naturalHeight,
                  decoded: results[i].status === "fulfilled"}))));
"""


def missing_browser() -> str | None:
    """Why the browser test cannot run here (None: it can)."""
    missing = [f"{what} at {path}" for what, path in (("Chromium", CHROMIUM),
               ("chromedriver", CHROMEDRIVER)) if not os.access(path, os.X_OK)]  # fmt: skip
    if not missing:
        return None
    return (f"no {' and no '.join(missing)}: `make test` installs them with apt-get "
            "(chromium chromium-driver) where it can")  # fmt: skip


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module, quit (and its profile removed) afterwards."""
    reason = missing_browser()
    if reason:
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    with tempfile.TemporaryDirectory(prefix="sagsim-chromium-", ignore_cleanup_errors=True) as d:
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={d}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        # An explicit driver path: Selenium Manager (which downloads drivers) never runs.
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        try:
            driver.set_page_load_timeout(PAGE_LOAD_TIMEOUT_S)
            driver.set_script_timeout(PAGE_LOAD_TIMEOUT_S)
            yield driver
        finally:
            driver.quit()


def open_page(driver, path: Path) -> None:
    """Load a local page; get() returns after the load event, i.e. once every image has
    loaded or failed. The console log is drained first so that no earlier page's errors are
    blamed on this one."""
    driver.get_log("browser")
    driver.get(path.resolve().as_uri())


def image_problems(driver) -> tuple[int, list[dict]]:
    """(number of <img> on the page, those that did not load or decode)."""
    images = driver.execute_async_script(IMAGE_CHECK_JS)
    bad = [i for i in images if not (i["complete"] and i["width"] > 0 and i["decoded"])]
    return len(images), bad


def console_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_report_renders_in_chromium(browser, tmp_path):
    out = tmp_path / "rep"
    flags = [f for p in POLICIES for f in ("--policy", p)]
    rc = evaluate_main(["minimal", *flags, "--seeds", "2", "--max-cycles", "40", "--jobs", "1",
                        "--quiet", "--out", str(out)])  # fmt: skip
    assert rc == 0
    open_page(browser, out / "report.html")

    n, bad = image_problems(browser)
    assert n > 0, "report.html shows no image"
    assert bad == [], f"{len(bad)} of {n} images did not load: {bad}"

    rows = browser.find_elements("css selector", "#summary tr.policy")
    names = [r.find_element("css selector", "th").text.strip() for r in rows]
    assert names == list(POLICIES)
    assert names == list(json.loads((out / "metrics.json").read_text())["summary"])
    assert console_errors(browser) == []


# A 1×1 PNG; the same PNG cut short (the signature and size intact, the pixel data gone);
# bytes that are no image at all; and a file that does not exist (also a console error).
PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def test_the_check_catches_broken_images(browser, tmp_path):
    def img(alt, data):
        return f'<img alt="{alt}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'

    page = tmp_path / "broken.html"
    page.write_text(
        "<!doctype html><html><body>"
        + img("good", PNG_1X1)
        + img("truncated", PNG_1X1[:40])
        + img("garbage", b"not a png")
        + '<img alt="missing" src="missing.png">'
        + "</body></html>"
    )
    open_page(browser, page)
    n, bad = image_problems(browser)
    assert n == 4
    assert [b["alt"] for b in bad] == ["truncated", "garbage", "missing"]
    errors = console_errors(browser)
    assert len(errors) == 1 and "missing.png" in errors[0]


def test_skip_reason_names_what_is_missing(monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "CHROMIUM", "/nonexistent/chromium")
    reason = missing_browser()
    assert reason is not None and "/nonexistent/chromium" in reason and "make test" in reason
