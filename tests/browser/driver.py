"""The browser on the portal for the journeys in tests/browser/: a headless Chromium (Debian's
chromium + chromium-driver) driven by selenium, explicit waits only, a screenshot per step."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("BROWSER_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("BROWSER_CHROMEDRIVER", "/usr/bin/chromedriver"))
# What this machine's closed network needs (no background connections, no updates, no sync).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
)
WAIT_SECONDS = 20.0
WIDTH = 1280
MAX_HEIGHT = 4000


def screenshots_dir() -> Path:
    configured = os.environ.get("BROWSER_SCREENSHOTS_DIR")
    return Path(configured) if configured else ROOT / "var" / "browser-screenshots"


#: Every screenshot this run wrote (the terminal summary names their directory).
written: list[Path] = []


def missing_browser() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return f"{path} is missing (apt-get install chromium chromium-driver)"
    return None


def start_chromium(profile: str) -> WebDriver:
    """A headless Chromium with the profile directory ``profile`` (fresh: no state, no sync)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    # Both paths given: selenium's own driver manager (which downloads) never runs.
    return webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)


@dataclass
class Browser:
    """The browser on the portal: visit, find, fill, click, wait (explicit waits only) and a
    screenshot per step, named ``<journey>-<NN>-<step>.png``."""

    driver: WebDriver
    base_url: str
    journey: str
    directory: Path
    steps: int = 0
    shots: list[Path] = field(default_factory=list)

    def visit(self, path: str) -> None:
        self.driver.get(self.base_url + path)
        self.wait_for_page()

    def wait(self, what: str, condition: Callable[[WebDriver], Any]) -> Any:
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait

        try:
            return WebDriverWait(self.driver, WAIT_SECONDS).until(condition)
        except TimeoutException:
            shot = self.screenshot(f"timeout-{what}")
            raise AssertionError(
                f"timed out waiting for {what} on {self.driver.current_url} (see {shot})"
            ) from None

    def wait_for_page(self) -> None:
        """Until a document that is not the one marked by ``click_and_load`` has loaded."""
        from selenium.common.exceptions import WebDriverException

        def loaded(driver: WebDriver) -> bool:
            try:
                return bool(
                    driver.execute_script(
                        "return !window.roamdeskOldPage && document.readyState === 'complete'"
                    )
                )
            except WebDriverException:  # between two documents
                return False

        self.wait("the page to load", loaded)

    def find(self, css: str) -> WebElement:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec

        element: WebElement = self.wait(
            css, ec.visibility_of_element_located((By.CSS_SELECTOR, css))
        )
        return element

    def find_all(self, css: str) -> list[WebElement]:
        from selenium.webdriver.common.by import By

        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    def link(self, text: str) -> WebElement:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec

        # The text in the page, not as CSS renders it (object tools are upper-cased).
        assert '"' not in text
        xpath = f'//a[normalize-space(.)="{text}"]'
        element: WebElement = self.wait(
            f"link {text!r}", ec.element_to_be_clickable((By.XPATH, xpath))
        )
        return element

    def fill(self, css: str, value: str) -> None:
        element = self.find(css)
        element.clear()
        element.send_keys(value)

    def click_and_load(self, element: WebElement) -> None:
        """Click something that opens another page; wait until the next one has loaded.

        The old document is marked, not watched through the element: asking Chromium about an
        element while its document goes away sometimes answers with an inspector error instead
        of "stale element"."""
        self.driver.execute_script("window.roamdeskOldPage = true")
        element.click()
        self.wait_for_page()

    def text(self, css: str = "body") -> str:
        text: str = self.find(css).text
        return text

    def heading(self) -> str:
        return self.text("#content h1")

    def screenshot(self, step: str, *, focus: str | None = None) -> Path:
        """The whole page (up to MAX_HEIGHT pixels) as a PNG; with ``focus`` (a CSS selector)
        the window-sized part of a long page that starts with that element."""
        self.steps += 1
        slug = re.sub(r"[^a-z0-9]+", "-", step.lower()).strip("-")
        path = self.directory / f"{self.journey}-{self.steps:02d}-{slug}.png"
        self.driver.set_window_size(WIDTH, 900)  # measure the page, not the last window
        if focus is not None:
            self.driver.execute_script("arguments[0].scrollIntoView()", self.find(focus))
        else:
            page, frame = self.driver.execute_script(
                "return [Math.max(document.body.scrollHeight,"
                " document.documentElement.scrollHeight), window.outerHeight - window.innerHeight]"
            )
            self.driver.set_window_size(WIDTH, min(int(page) + int(frame), MAX_HEIGHT))
        assert self.driver.save_screenshot(str(path)), f"no screenshot written to {path}"
        self.shots.append(path)
        written.append(path)
        return path

    def log_in(self, username: str, password: str) -> None:
        """Through the admin's login form, as a person does."""
        self.driver.delete_all_cookies()
        self.visit("/admin/")
        self.find("#id_username")
        assert "/admin/login/" in self.driver.current_url
        self.screenshot("login form")
        # The admin's navigation sidebar closed, as a person may keep it: the screenshots
        # then show the page's own content at full width.
        self.driver.execute_script("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
        self.fill("#id_username", username)
        self.fill("#id_password", password)
        self.click_and_load(self.find('#login-form input[type="submit"]'))
        self.find("#user-tools")
        assert username.lower() in self.text("#user-tools").lower()  # CSS upper-cases it
        assert self.driver.current_url.rstrip("/").endswith("/admin")
