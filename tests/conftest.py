"""The test session's Hypothesis profile (see :mod:`profiles`: fixed examples by default),
and the browser the tests of the web page share."""

import pytest

import profiles  # noqa: F401  (registers and loads the profile before any test is collected)


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (tests/browser.py), for the tests of the web page: skipped without
    it, failed in CI."""
    from browser import chromium, launched
    chromium()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        b = launched(playwright)
        yield b
        b.close()
