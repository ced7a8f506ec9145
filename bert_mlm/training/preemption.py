"""SIGTERM, as Cloud TPU / GCE preemption and Kubernetes send it, turned into a clean stop.

The training loop runs `iterations_per_loop` steps inside one TensorFlow call, during which
Python's own signal handlers cannot run. So the signal is caught twice: the C-level part of
Python's handling writes the signal number to a pipe at once (`signal.set_wakeup_fd`), and a
watcher thread turns that into `stop_requested`, a variable the compiled loop reads before each
step; Python's handler then logs it when the main thread next runs Python. The loop ends after
the step in flight, the run saves a checkpoint at that step and exits with `Preempted`'s status.
Under multi-worker training the loop adds up every worker's flag before each step
(`train_step`), so all workers stop at the same step even if one alone was signalled.

A second SIGTERM changes nothing (the stop is under way); SIGKILL can interrupt anything, and
checkpoints are written atomically, so none is ever broken under its final name.
"""

import os
import signal
import threading

from absl import logging
import tensorflow as tf


class PreemptionWatcher(object):
  """Owns the SIGTERM handler while training runs (a context manager)."""

  def __init__(self):
    # A plain local variable (not mirrored): each worker's own flag.
    with tf.init_scope():
      self.stop_requested = tf.Variable(False, trainable=False, name="stop_requested")
    self.signalled = False
    self._installed = False

  def __enter__(self):
    if threading.current_thread() is not threading.main_thread():
      logging.warning("Not in the main thread: SIGTERM will not stop training cleanly.")
      return self
    self._read_fd, self._write_fd = os.pipe()
    os.set_blocking(self._write_fd, False)
    self._previous_handler = signal.signal(signal.SIGTERM, self._handle)
    self._previous_wakeup_fd = signal.set_wakeup_fd(self._write_fd, warn_on_full_buffer=False)
    self._thread = threading.Thread(target=self._watch, name="sigterm-watcher", daemon=True)
    self._thread.start()
    self._installed = True
    return self

  def __exit__(self, *exc_info):
    if not self._installed:
      return False
    signal.set_wakeup_fd(self._previous_wakeup_fd)
    signal.signal(signal.SIGTERM, self._previous_handler)
    os.close(self._write_fd)  # ends the watcher's read
    self._thread.join(timeout=5)
    os.close(self._read_fd)
    self._installed = False
    return False

  def _watch(self):
    while True:
      try:
        data = os.read(self._read_fd, 64)
      except OSError:
        return
      if not data:
        return
      if signal.SIGTERM in data:
        self.stop_requested.assign(True)

  def _handle(self, signum, frame):
    del signum, frame
    if self.signalled:
      logging.warning("SIGTERM again: the stop is already under way (the checkpoint is being "
                      "written atomically).")
      return
    self.signalled = True
    self.stop_requested.assign(True)
    logging.warning("SIGTERM: finishing the step in flight, then saving a checkpoint.")
