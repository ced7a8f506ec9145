"""bert_mlm/allocator.py: the malloc settings act, the variable turns them off, numerics stay."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from bert_mlm import allocator
from tests import helpers

# Each probe is a fresh process: mallopt acts for the whole process and cannot be read back, so
# the settings are checked by what glibc then does. It prints the decision, whether a held
# 16 MiB block was mapped on its own (mallinfo2's hblkhd, M_MMAP_THRESHOLD), and the minor page
# faults of ten rounds of a step-like pattern once warm (eight 4 MiB blocks allocated, written,
# freed: with glibc's defaults the freed 32 MiB at the heap's top is above the trim threshold,
# goes back to the kernel, and every page faults in again next round).
_PROBE = r"""
import ctypes, resource, sys
sys.path.insert(0, sys.argv[1])
from absl import logging
from bert_mlm import allocator
logging.set_verbosity(logging.INFO)
decision = allocator.tune_malloc()
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
class Mallinfo2(ctypes.Structure):
  _fields_ = [(n, ctypes.c_size_t) for n in
              "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
libc.mallinfo2.restype = Mallinfo2
already = libc.mallinfo2().hblkhd
block = libc.malloc(16 << 20)
mapped = libc.mallinfo2().hblkhd - already
libc.free(block)
def step():
  blocks = [libc.malloc(4 << 20) for _ in range(8)]
  for b in blocks:
    libc.memset(b, 1, 4 << 20)
  for b in blocks:
    libc.free(b)
step(); step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
  step()
print(decision, mapped, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""

needs_glibc = pytest.mark.skipif(allocator.glibc_version() is None, reason="glibc only")


def _probe(**environ):
  env = {k: v for k, v in os.environ.items() if k not in (allocator.ENV_VAR, "GLIBC_TUNABLES")}
  env.update(environ)
  result = subprocess.run([sys.executable, "-c", _PROBE, helpers.REPO], capture_output=True,
                          text=True, env=env, check=True)
  decision, mapped, faults = result.stdout.split()
  return decision, int(mapped), int(faults), result.stderr


@needs_glibc
def test_settings_keep_step_buffers_in_the_process_and_the_variable_turns_them_off():
  decision, mapped, faults, log = _probe()
  assert decision == "on"
  assert "malloc tuning: on (glibc" in log
  off_decision, off_mapped, off_faults, off_log = _probe(**{allocator.ENV_VAR: "0"})
  assert off_decision == "off"
  assert "malloc tuning: off (BERT_MLM_MALLOC_TUNING=0)" in off_log
  # M_MMAP_THRESHOLD: the 16 MiB block comes from the heap, not its own mapping.
  assert mapped == 0 and off_mapped > 16 << 20
  # M_TRIM_THRESHOLD / M_TOP_PAD: 320 MiB written in 4 KiB pages, refaulted only by default.
  assert off_faults > 20000
  assert faults < off_faults / 100


@needs_glibc
def test_glibc_tunables_are_left_alone():
  decision, mapped, _, log = _probe(GLIBC_TUNABLES="glibc.malloc.mmap_threshold=1048576")
  assert decision == "glibc_tunables"
  assert mapped > 16 << 20  # the environment's 1 MiB threshold acts, not ours
  assert "left to GLIBC_TUNABLES" in log


def test_decision_is_made_once(monkeypatch):
  monkeypatch.setattr(allocator, "_decision", None)
  assert allocator.tune_malloc({allocator.ENV_VAR: "off"}) == "off"
  assert allocator.tune_malloc({}) == "off"  # the process keeps its first choice


@needs_glibc
@pytest.mark.slow
def test_training_is_bit_identical_with_and_without_tuning(tmp_path):
  """run_pretraining.py in two processes, tuning on and off (dropout on): every variable and
  Adam slot of the final checkpoint equal bit for bit, and the logged losses equal."""
  config = dict(helpers.TINY_CONFIG)
  data = helpers.write_records(
      str(tmp_path / "train.tfrecord"),
      [helpers.make_features(config, 4, 24, 4, seed=s) for s in range(4)])
  config_file = helpers.write_config(str(tmp_path / "config.json"), config)
  runs = {}
  for setting in ("1", "0"):
    out = tmp_path / ("out" + setting)
    env = dict(os.environ, **{allocator.ENV_VAR: setting})
    env.pop("GLIBC_TUNABLES", None)
    result = subprocess.run(
        [sys.executable, os.path.join(helpers.REPO, "run_pretraining.py"),
         "--bert_config_file=" + config_file, "--input_file=" + data, "--output_dir=" + str(out),
         "--do_train", "--train_batch_size=4", "--max_seq_length=24",
         "--max_predictions_per_seq=4", "--learning_rate=1e-3", "--num_train_steps=12",
         "--num_warmup_steps=2", "--save_checkpoints_steps=12", "--iterations_per_loop=4",
         "--seed=7"],
        capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert ("malloc tuning: on" if setting == "1" else "malloc tuning: off") in result.stderr
    # Step, losses and learning rate; not the examples/s and ETA that follow.
    losses = [re.search(r"step (\S+ \([^)]*\): loss .*?, lr [^,]+),", line).group(1)
              for line in result.stderr.splitlines()
              if ": loss " in line]
    assert len(losses) == 3
    reader = tf.train.load_checkpoint(str(out / "model.ckpt-12"))
    runs[setting] = (losses, {name: reader.get_tensor(name)
                              for name in reader.get_variable_to_shape_map()})
  assert runs["1"][0] == runs["0"][0]
  assert sorted(runs["1"][1]) == sorted(runs["0"][1])
  for name, value in runs["1"][1].items():
    np.testing.assert_array_equal(value, runs["0"][1][name], err_msg=name)
