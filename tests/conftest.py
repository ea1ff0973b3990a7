"""The test session's Hypothesis profile: see :mod:`profiles` (fixed examples by default)."""

import profiles  # noqa: F401  (registers and loads the profile before any test is collected)
