"""glibc malloc settings that keep a training step's large buffers inside the process.

TensorFlow's CPU kernels get their tensors from malloc, and a training step frees and allocates
the same tens of megabytes every step. With glibc's defaults, freed memory at the top of a heap
above the trim threshold goes back to the kernel, and blocks above the mmap threshold are mapped
afresh; either way the next step faults every page in again and the kernel zeroes it, which
can be a large share of the CPU time (benchmarks/README.md). `tune_malloc` raises both
thresholds and pads heap growth, through ctypes `mallopt`, for the rest of the process:

  M_MMAP_THRESHOLD  32 MiB      (glibc's largest: blocks below it come from the heaps)
  M_TRIM_THRESHOLD  2**31 - 1   (freed memory is kept for the next step)
  M_TOP_PAD         64 MiB      (heaps grow in large steps)

Results do not change: only where the bytes live. The cost is memory: the process keeps its
peak heap instead of shrinking between steps. `BERT_MLM_MALLOC_TUNING=0` turns it off;
a `GLIBC_TUNABLES` that sets any `glibc.malloc.` tunable is left to act alone.
Other C libraries (musl, macOS) have no such `mallopt`: nothing is done there.
"""

import ctypes
import os

from absl import logging

ENV_VAR = "BERT_MLM_MALLOC_TUNING"

# malloc.h's parameter numbers, and the values set.
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3
SETTINGS = (("M_MMAP_THRESHOLD", _M_MMAP_THRESHOLD, 32 << 20),
            ("M_TRIM_THRESHOLD", _M_TRIM_THRESHOLD, 2 ** 31 - 1),
            ("M_TOP_PAD", _M_TOP_PAD, 64 << 20))

_decision = None  # what the first call decided (later calls only return it)


def glibc_version():
  """'2.36' under glibc, else None."""
  try:
    name = os.confstr("CS_GNU_LIBC_VERSION")  # 'glibc 2.36'
  except (ValueError, OSError, AttributeError):
    return None
  if not name or not name.startswith("glibc "):
    return None
  return name.split()[1]


def tune_malloc(environ=None):
  """Applies SETTINGS once per process (unless turned off) and logs the choice once.

  Call it first thing in a command's main, before the training step allocates. Returns what was
  done: "on", "off" (the environment variable), "glibc_tunables" (left to GLIBC_TUNABLES),
  "not_glibc" or "failed" (a mallopt call refused).
  """
  global _decision
  if _decision is not None:
    return _decision
  environ = os.environ if environ is None else environ
  version = glibc_version()
  if environ.get(ENV_VAR, "1").strip().lower() in ("0", "false", "no", "off"):
    _decision = "off"
    logging.info("malloc tuning: off (%s=%s); glibc's defaults apply.", ENV_VAR,
                 environ[ENV_VAR])
  elif "glibc.malloc." in environ.get("GLIBC_TUNABLES", ""):
    _decision = "glibc_tunables"
    logging.info("malloc tuning: left to GLIBC_TUNABLES=%s.", environ["GLIBC_TUNABLES"])
  elif version is None:
    _decision = "not_glibc"
    logging.info("malloc tuning: not glibc, nothing to set.")
  else:
    libc = ctypes.CDLL(None)
    refused = [name for name, param, value in SETTINGS if libc.mallopt(param, value) != 1]
    if refused:
      _decision = "failed"
      logging.warning("malloc tuning: glibc %s refused mallopt(%s); its defaults apply there.",
                      version, ", ".join(refused))
    else:
      _decision = "on"
      logging.info("malloc tuning: on (glibc %s: M_MMAP_THRESHOLD=32 MiB, "
                   "M_TRIM_THRESHOLD=2**31-1, M_TOP_PAD=64 MiB; %s=0 turns it off).",
                   version, ENV_VAR)
  return _decision
