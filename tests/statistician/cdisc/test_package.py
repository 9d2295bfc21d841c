"""The CDISC package of the test trial: contents, the self-check, and each rule failing."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from surveys.statistician.exports import ExportFilters
from surveys.statistician.exports.cdisc.check import check_folder, check_package, findings_table
from surveys.statistician.exports.cdisc.package import build_package

pytestmark = pytest.mark.django_db


@pytest.fixture
def package(study, tmp_path) -> Path:
    return build_package(ExportFilters(), tmp_path).path


def test_smoke_check(package):
    findings = check_package(package)
    print(findings_table(findings))
    assert not any(f.failed for f in findings)
