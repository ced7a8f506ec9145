"""Progress lines: the arithmetic of bert_mlm.progress, and data creation's lines on a big input
(quiet on a small one). Training's lines are checked on the main job (tests/test_main_job.py)."""

import re

from absl import logging
import pytest

from bert_mlm import create_pretraining_data
from bert_mlm import progress


class _Clock(object):
  """Time that moves when the test says (seconds since the epoch)."""

  def __init__(self, now):
    self.now = now

  def __call__(self):
    return self.now


def test_rate_eta_and_end_time():
  clock = _Clock(1_000_000.0)
  steps = progress.Progress(3000, clock=clock)
  assert steps.line() == "0/3000 (0.0%), ETA ?"
  clock.now += 60  # the first loop: tracing and compiling, 250 steps
  steps.update(250)
  # One update: the rate counts from the start (60 s for 250 steps), an estimate on the long side.
  assert steps.counts() == "250/3000 (8.3%)"
  assert steps.eta()[0] == 2750 / (250 / 60)
  clock.now += 25  # then 250 steps in 25 s: 10 steps/s from the first update on
  steps.update(500)
  left, end = steps.eta()
  assert left == 250.0
  assert re.fullmatch(r"ETA 4m10s \(ends \d\d:\d\d:\d\d \S+\)", steps.eta_text()), steps.eta_text()
  assert end in steps.line()
  steps.update(3000)
  assert steps.line() == "3000/3000 (100.0%), done"
  # A resumed run counts from where it was.
  resumed = progress.Progress(3000, done=2000, clock=clock)
  assert resumed.counts() == "2000/3000 (66.7%)"
  assert progress.format_duration(59.4) == "59s"
  assert progress.format_duration(3600 * 26 + 61) == "1d02h"
  assert progress.format_duration(3600 * 2 + 7 * 60) == "2h07m"


def test_due_at_most_every_interval():
  clock = _Clock(0.0)
  lines = progress.Progress(10, interval=30.0, clock=clock)
  assert not lines.due()
  clock.now = 29.0
  assert not lines.due()
  clock.now = 31.0
  assert lines.due() and not lines.due()
  clock.now = 62.0
  assert lines.due()


def _logged(caplog_records):
  return [r.getMessage() for r in caplog_records]


@pytest.mark.slow
def test_data_creation_progress_on_a_big_input(tmp_path, sample_corpus, sample_vocab,
                                               monkeypatch, caplog):
  with open(sample_corpus, encoding="utf-8") as f:
    text = f.read()
  big = tmp_path / "big.txt"
  big.write_text((text.rstrip("\n") + "\n\n") * (4 * 10**6 // len(text) + 1), encoding="utf-8")
  logging.set_verbosity(logging.INFO)
  caplog.set_level("INFO")
  options = create_pretraining_data.DataOptions(max_seq_length=32, max_predictions_per_seq=5,
                                                dupe_factor=1)
  # A line at every look at the clock (each MB read) instead of every 30 s.
  monkeypatch.setattr(create_pretraining_data, "_PROGRESS_SECONDS", 0.0)
  create_pretraining_data.create_pretraining_data(str(big), str(tmp_path / "big.tfrecord"),
                                                  sample_vocab, options)
  reading = [m for m in _logged(caplog.records) if m.startswith("Reading ")]
  assert len(reading) >= 3, reading
  assert re.fullmatch(r"Reading 1\.0/4\.\d MB \(2\d\.\d%\): \d+ documents, [\d.]+ MB/s, "
                      r"ETA \S+ \(ends .*\)", reading[0]), reading[0]
  assert any(re.match(r"Wrote \d+/\d+ \(\d+\.\d%\) instances, ETA", m)
             for m in _logged(caplog.records))
  # A small input: no reading progress, whatever the interval.
  caplog.clear()
  create_pretraining_data.create_pretraining_data(sample_corpus, str(tmp_path / "small.tfrecord"),
                                                  sample_vocab, options)
  assert not [m for m in _logged(caplog.records) if m.startswith("Reading ")]
