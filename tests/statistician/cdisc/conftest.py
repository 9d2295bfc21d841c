"""The statistician test trial (tests/statistician/conftest.py) for the CDISC tests."""

from tests.statistician.conftest import study  # noqa: F401
