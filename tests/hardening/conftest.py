"""Fixtures shared with the statistician tests (a small scored study)."""

from tests.statistician.conftest import study  # noqa: F401
