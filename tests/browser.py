"""A real browser for the tests of the web page: headless Chromium driven by Playwright.

Chromium is Debian's (``apt-get install chromium``; ``$SYMBACKPROP_CHROMIUM`` names another
binary), driven by the ``playwright`` package of the test extra; Playwright's own browser
downloads are never used.  Locally a test skips, saying why, without either; in CI
(``SYMBACKPROP_CI=1``, set by ``.ci/run``) a missing browser is a failure.
"""

import base64
import os
import shutil

import pytest


def chromium():
    """The path of Chromium, or a skip (a failure in CI)."""
    found = os.environ.get("SYMBACKPROP_CHROMIUM") or shutil.which("chromium")
    if found and not os.access(found, os.X_OK):
        found = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        found, why = None, "the playwright package is not installed (pip install playwright)"
    else:
        why = "Chromium is not installed (Debian: chromium; SYMBACKPROP_CHROMIUM names another)"
    if found is None:
        if os.environ.get("SYMBACKPROP_CI"):
            pytest.fail(f"{why}: the web page is tested in a browser in CI")
        pytest.skip(why)
    return found


def launched(playwright):
    """A headless Chromium that reaches no network: a page must work offline."""
    return playwright.chromium.launch(executable_path=chromium(), headless=True,
                                      args=["--no-sandbox"])


#: Counts the pixels of a PNG that differ from its corner's colour (one pixel in 7), in a page
#: of its own.
_COUNT = """async (data) => {
  const image = new Image();
  image.src = "data:image/png;base64," + data;
  await image.decode();
  const canvas = document.createElement("canvas");
  canvas.width = image.width; canvas.height = image.height;
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0);
  const pixels = context.getImageData(0, 0, image.width, image.height).data;
  let differ = 0;
  for (let i = 0; i < pixels.length; i += 28) {
    if (Math.abs(pixels[i] - pixels[0]) + Math.abs(pixels[i + 1] - pixels[1])
        + Math.abs(pixels[i + 2] - pixels[2]) > 48) { differ += 1; }
  }
  return [differ, pixels.length / 28];
}"""


def inked(browser, png):
    """The fraction of a screenshot's pixels that are not its background."""
    page = browser.new_page()
    try:
        differ, total = page.evaluate(_COUNT, base64.b64encode(png).decode("ascii"))
    finally:
        page.close()
    return differ / total
