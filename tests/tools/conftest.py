"""Shared fixtures for the pytest suites that drive lepton's binaries.

Environment (set by ctest, see tests/tools/CMakeLists.txt):
  LEPTON         path of the `lepton` binary
  LP_SOURCE_DIR  the source tree (fixtures live under tests/fixtures)
  LP_BUILD_DIR   the build tree (C test binaries live under tests/<room>/)
Run by hand:  LEPTON=build/tools/lepton python3 -m pytest -q tests/tools
"""
import os
import pathlib
import subprocess

import pytest

SOURCE_DIR = pathlib.Path(os.environ.get("LP_SOURCE_DIR") or pathlib.Path(__file__).resolve().parents[2])
BUILD_DIR = pathlib.Path(os.environ.get("LP_BUILD_DIR", SOURCE_DIR / "build"))


@pytest.fixture(scope="session")
def source_dir():
    return SOURCE_DIR


@pytest.fixture(scope="session")
def build_dir():
    return BUILD_DIR


@pytest.fixture(scope="session")
def lepton():
    path = os.environ.get("LEPTON") or str(BUILD_DIR / "tools" / "lepton")
    if not os.access(path, os.X_OK):
        pytest.skip(f"no lepton binary at {path} (build it, or set LEPTON)")
    return path


@pytest.fixture(scope="session")
def run_lepton(lepton):
    """Runs `lepton ARGS...`; returns the CompletedProcess (text mode)."""

    def run(*args, timeout=120):
        return subprocess.run([lepton, *map(str, args)], capture_output=True, text=True,
                              timeout=timeout)

    return run


@pytest.fixture(scope="session")
def test_binary():
    """The path of a C test executable in the build tree, or a skip."""

    def find(room, name):
        path = BUILD_DIR / "tests" / room / f"{room}_{name}"
        if not os.access(path, os.X_OK):
            pytest.skip(f"no test binary at {path} (build it first)")
        return path

    return find
