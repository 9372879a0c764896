"""The live ranking page in a real headless Chromium (Debian's, driven by Playwright): 34
provinces, a score that changes on screen after events posted through the API with no
reload, a province that opens, and a phone-sized viewport that stays usable."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.conftest import Served
from tests.api.test_served import post_resolved_dossier
from tests.conftest import skip_or_fail

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-quic", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        skip_or_fail(f"no Chromium at {CHROMIUM} (make setup installs Debian's chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        skip_or_fail(f"Playwright for Python is not installed ({error}): make setup")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


def total_cell(unit: str) -> str:
    return f"#ranking tbody tr[data-unit='{unit}'] td.total"


def test_the_page_refreshes_live_and_opens_a_province(served: Served, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(served.url + "/")
    page.wait_for_selector("#ranking tbody tr[data-unit]")
    assert page.locator("#ranking tbody tr").count() == 34
    assert page.locator("#live").inner_text().startswith("● Trực tiếp")
    assert "Hạng" in page.locator("#ranking thead").inner_text()
    page.evaluate("window.notReloaded = true")
    before = page.locator(total_cell("08")).inner_text()
    post_resolved_dossier(served, "08")
    page.wait_for_function(
        "([selector, before]) => document.querySelector(selector).textContent !== before",
        arg=[total_cell("08"), before], timeout=30_000)
    assert page.evaluate("window.notReloaded") is True
    page.click("#ranking tbody tr[data-unit='22']")
    page.wait_for_selector("#departments tbody tr")
    page.wait_for_selector("#communes tbody tr")
    assert "Quảng Ninh" in page.locator("#province-title").inner_text()
    page.locator("#departments tbody tr").first.click()
    page.wait_for_selector("#indicators tbody tr[data-indicator]")
    page.wait_for_selector("#chart svg circle", state="attached")
    assert not errors, errors
    page.close()


def test_a_phone_sized_viewport_stays_usable(served: Served, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 375, "height": 740}, is_mobile=True,
                            has_touch=True)
    page.goto(served.url + "/")
    page.wait_for_selector("#ranking tbody tr[data-unit]")
    assert page.locator("#ranking tbody tr").count() == 34
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page is {width}px wide on a 375px screen"
    assert not page.locator("#ranking tbody tr >> nth=0 >> td.grp >> nth=0").is_visible()
    assert page.locator("#ranking tbody tr >> nth=0 >> td.total").is_visible()
    page.locator("#ranking tbody tr[data-unit='22']").tap()
    page.wait_for_selector("#departments tbody tr")
    box = page.locator("#province").bounding_box()
    assert box is not None and box["width"] <= 375
    page.close()
