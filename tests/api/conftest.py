"""The API tests use the statistician tests' small two-site trial."""

from tests.statistician.conftest import study  # noqa: F401
