"""Headless Chromium (Debian's ``chromium`` package) driven by Playwright, for the UI checks of tests/scheduler/.

The browser is the system's, never a Playwright download: ``DDB_LAKE_CHROMIUM`` or /usr/bin/chromium (installed by
scripts/bootstrap.sh). When it is missing or cannot start, the test fails saying so: CI must run the check.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("DDB_LAKE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


@contextmanager
def chromium_page(viewport: tuple[int, int] = (1600, 1000)) -> Iterator:
    """A Playwright page in headless Chromium; fails the test (never skips) when the browser cannot start."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as error:
        pytest.fail(f"playwright is not installed ({error}): run scripts/bootstrap.sh (requirements-dev.txt)")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium (scripts/bootstrap.sh does it) or set "
                    "DDB_LAKE_CHROMIUM to a Chromium binary")
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], timeout=60_000)
        except Error as error:
            pytest.fail(f"Chromium at {CHROMIUM} did not start: {error}")
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            page.set_default_timeout(60_000)
            yield page
        finally:
            browser.close()


def keep_screenshot(path: Path) -> None:
    """Copy a screenshot into ``DDB_LAKE_SCREENSHOTS_DIR`` when it is set (a CI artifact folder)."""
    folder = os.environ.get("DDB_LAKE_SCREENSHOTS_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, Path(folder) / path.name)
