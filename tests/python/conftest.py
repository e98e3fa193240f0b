"""Shared fixtures of the Python module's tests (run by CTest, label python).

The real data lives in ../shared/data (or $HWNAS_DATA_DIR); a test that needs
it is skipped with the path it looked for when it is absent. $HWNAS_CLI is
the hwnas program of the same build, for the tests that compare the module
with it.
"""

import json
import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]

# OFA's largest and smallest networks (ofa-reference.md §4.7).
MAX_ARCH = {"ks": [7] * 20, "e": [6] * 20, "d": [4] * 5, "r": [224]}
MIN_ARCH = {"ks": [3] * 20, "e": [3] * 20, "d": [2] * 5, "r": [160]}


def _data_dir():
    env = os.environ.get("HWNAS_DATA_DIR")
    return pathlib.Path(env) if env else REPO.parent / "shared" / "data"


def data_path(relative):
    """A file of the shared data, or a skip naming where it was looked for."""
    path = _data_dir() / relative
    if not path.exists():
        pytest.skip(f"no {path} (set HWNAS_DATA_DIR to the shared data folder)")
    return path


@pytest.fixture
def cli():
    """Runs the hwnas program with --json and returns its parsed output."""
    exe = os.environ.get("HWNAS_CLI")
    if not exe:
        pytest.skip("HWNAS_CLI is not set (the hwnas program of this build)")

    def run(*args):
        done = subprocess.run([exe, *map(str, args), "--json"], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    return run
