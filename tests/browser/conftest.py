"""Fixtures of the browser journeys: one headless Chromium per session and a ``browser`` on
the portal served by pytest-django's ``live_server`` (tests/browser/driver.py).

Outside CI a machine without the browser skips these tests with the reason; under ``CI=true`` a
missing browser fails them (CI installs it: ``.ci/run``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.driver import Browser, missing_browser, screenshots_dir, start_chromium, written

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if written:
        terminalreporter.write_line(f"browser screenshots ({len(written)}): {written[0].parent}")


@pytest.fixture(scope="session")
def chromium() -> Iterator[WebDriver]:
    """One headless Chromium for the session, with a fresh profile directory."""
    reason = missing_browser()
    if reason is not None:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"browser tests must run in CI: {reason}")
        pytest.skip(reason)
    profile = tempfile.mkdtemp(prefix="roamdesk-chromium-")
    driver = start_chromium(profile)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def browser(chromium: WebDriver, live_server: Any, request: pytest.FixtureRequest) -> Browser:
    directory = screenshots_dir()
    directory.mkdir(parents=True, exist_ok=True)
    journey = request.node.name.removeprefix("test_")
    for old in directory.glob(f"{journey}-*.png"):
        old.unlink()
    print(f"screenshots of {journey}: {directory}")  # noqa: T201 (shown with -s and on failure)
    return Browser(driver=chromium, base_url=live_server.url, journey=journey, directory=directory)
