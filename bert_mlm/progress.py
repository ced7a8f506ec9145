"""Progress of a long job as one log line: done/total, percent, rate, time left and end time.

  step 750/3000 (25.0%): ..., ETA 2m10s (ends 04:12:31 UTC)

Shared by training (a line per loop of `iterations_per_loop` steps), evaluation and data
creation. The caller decides when to log (training: once per loop call, outside the compiled
steps; the others: `Progress.due`, at most every `interval` seconds), so nothing here runs per
step on a device. TensorFlow-free.
"""

import time


def format_duration(seconds):
  """A duration for a person: 45s, 3m05s, 2h07m, 3d04h."""
  seconds = max(0, int(round(seconds)))
  if seconds < 60:
    return "%ds" % seconds
  if seconds < 3600:
    return "%dm%02ds" % divmod(seconds, 60)
  if seconds < 86400:
    return "%dh%02dm" % (seconds // 3600, seconds % 3600 // 60)
  return "%dd%02dh" % (seconds // 86400, seconds % 86400 // 3600)


def format_end_time(timestamp, now):
  """The clock time `timestamp` (seconds since the epoch), with the date when not today."""
  if time.strftime("%Y-%m-%d", time.localtime(timestamp)) == time.strftime(
      "%Y-%m-%d", time.localtime(now)):
    return time.strftime("%H:%M:%S %Z", time.localtime(timestamp))
  return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(timestamp))


class Progress(object):
  """Counts work done out of `total` (steps, batches, bytes) and estimates the time left.

  The rate is measured from the first `update` on once there is a second: the first call of a
  training loop includes tracing and compiling, which would make every later estimate too long.
  At the first update the rate is measured from construction (an estimate on the long side).
  """

  def __init__(self, total, done=0, interval=30.0, clock=time.time):
    """total: the amount of work; done: already done before this run (a resumed training);
    interval: seconds between lines for callers that ask `due`."""
    self.total = total
    self._clock = clock
    self._interval = interval
    self._start = (clock(), done)
    self._since = None  # (time, done) of the first update: where the rate is measured from
    self._done = done
    self._last_line = self._start[0]

  def update(self, done):
    """Records that `done` of `total` is now done."""
    if self._since is None:
      self._since = (self._clock(), done)
    self._done = done

  def due(self):
    """True at most every `interval` seconds (then the caller logs `line()`)."""
    now = self._clock()
    if now - self._last_line < self._interval:
      return False
    self._last_line = now
    return True

  def rate(self):
    """Work per second (see the class docstring), or None before any work was done."""
    since = self._since if self._since and self._done > self._since[1] else self._start
    seconds = self._clock() - since[0]
    work = self._done - since[1]
    return work / seconds if seconds > 0 and work > 0 else None

  def eta(self):
    """(seconds left, end time as text), or None without a rate yet."""
    rate = self.rate()
    if rate is None:
      return None
    now = self._clock()
    left = max(0.0, (self.total - self._done) / rate)
    return left, format_end_time(now + left, now)

  def counts(self, fmt="%d/%d", scale=1):
    """`<done>/<total> (P%)`, the two formatted by `fmt` after division by `scale`."""
    percent = 100.0 * self._done / self.total if self.total else 100.0
    return (fmt % (self._done / scale, self.total / scale)) + " (%.1f%%)" % percent

  def eta_text(self):
    """`ETA 3m05s (ends 04:12:31 UTC)`; `ETA ?` before any work; `done` at the end."""
    if self._done >= self.total:
      return "done"
    eta = self.eta()
    if eta is None:
      return "ETA ?"
    return "ETA %s (ends %s)" % (format_duration(eta[0]), eta[1])

  def line(self, fmt="%d/%d", scale=1):
    """`<done>/<total> (P%), ETA 3m05s (ends 04:12:31 UTC)` (`counts` for fmt and scale)."""
    return "%s, %s" % (self.counts(fmt, scale), self.eta_text())
