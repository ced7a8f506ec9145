"""Multi-worker runs: every worker agrees on the run before step 1, and stops with the others.

In a collective every worker waits for all the others, so what stops one must stop all, with a
line that says which worker and why rather than TensorFlow's error about a collective node:

  * before any step, `check_same_run` runs each worker's own checks (flags, input records,
    output directory) and swaps through the coordination service's key-value store what each
    worker's run is (flags, config, input files, the step it would resume from); a worker that
    failed its checks or differs from the chief stops every worker with one UsageError naming
    it, instead of a hang or a shape error inside a collective;
  * a worker that stops on an error of its own (DataError: a corrupt shard on its disk;
    WriteError: the chief's disk is full) tells the others at once through the coordination
    service (`report_error_to_cluster`), whose pending collectives then fail with its message;
    `stop_together` turns that into the same kind of error on every worker, naming the worker,
    and the chief saves the last step every worker completed;
  * a worker that is lost (SIGKILL, OOM killer, a machine gone) is noticed by the others at once
    when its connections close, or by the coordination service's heartbeat
    (distribute.HEARTBEAT_TIMEOUT_SECONDS); `stop_together` turns TensorFlow's error into a
    WorkerLost naming the worker's task and address. No checkpoint is written then (the last
    periodic one is the rerun's start).
SIGTERM needs none of this: before each step the workers add up their stop requests in a
collective (train_step), so all stop at the same step and exit as Preempted.
"""

import json
import os
import re

from absl import logging
import tensorflow as tf

from tensorflow.python.eager import context

from bert_mlm import errors
from bert_mlm.storage import checkpoints
from bert_mlm.training import distribute
from bert_mlm.training import input_faults

# A task as TensorFlow names it in errors: /job:worker/replica:0/task:1 or /job:worker/task:1.
_TASK = re.compile(r"/job:(\w+)(?:/replica:\d+)?/task:(\d+)")
# Marks the message a worker sends the others when it stops on an error of its own.
_NOTE = "bert_mlm-stopped:"
_RUN_KEY = "bert_mlm/run/%s/%d"
# The code the others' aborted collectives carry (the message says the kind).
_ERROR_CODES = {errors.DataError: tf.errors.DATA_LOSS,
                errors.WriteError: tf.errors.RESOURCE_EXHAUSTED}


def in_cluster(strategy):
  """Whether `strategy` runs over several worker processes (multi_worker_mirrored)."""
  return distribute.num_workers(strategy) > 1


def _this_task(strategy):
  resolver = strategy.cluster_resolver
  return resolver.task_type, int(resolver.task_id)


def _tasks(strategy):
  """Every (job, index) of the cluster that trains, the chief first."""
  spec = strategy.cluster_resolver.cluster_spec()
  return [(job, index) for job in ("chief", "worker") if job in spec.jobs
          for index in range(spec.num_tasks(job))]


def task_name(job, index):
  """`worker 1 (10.0.0.2:2222)`: the task and its address in TF_CONFIG (`the chief, worker 0
  (...)` for the one that writes)."""
  cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
  addresses = cluster.get(job, [])
  where = " (%s)" % addresses[index] if index < len(addresses) else ""
  is_chief = job == "chief" or (job == "worker" and index == 0 and "chief" not in cluster)
  return "%s%s %d%s" % ("the chief, " if is_chief else "", job, index, where)


def _run_fingerprint(options):
  """{name: value} of everything that must be the same on every worker: the flags but paths,
  the config, the input files' names and the step a rerun would resume from."""
  fingerprint = {}
  for name, value in sorted(vars(options).items()):
    if name in ("output_dir", "input_files", "init_checkpoint", "bert_config"):
      continue
    if name == "dynamic_masking":
      value = None if value is None else {
          "masked_lm_prob": value.masked_lm_prob,
          "do_whole_word_mask": value.do_whole_word_mask, "vocab_size": value.vocab_size}
    fingerprint["--" + name] = value
  if options.bert_config is not None:
    for name, value in sorted(options.bert_config.to_dict().items()):
      fingerprint["the config's " + name] = value
  fingerprint["the input files"] = [os.path.basename(p) for p in options.input_files]
  fingerprint["--init_checkpoint"] = (os.path.basename(options.init_checkpoint)
                                      if options.init_checkpoint else None)
  latest = checkpoints.latest_checkpoint(options.output_dir)
  fingerprint["the step to resume from (in --output_dir)"] = (
      int(latest.rsplit("-", 1)[1]) if latest else 0)
  return fingerprint


def check_same_run(strategy, options, local_checks):
  """Runs `local_checks()` (which raises UsageError), then, on several workers, makes sure every
  worker passed them and was started for the same run as the chief.

  Raises:
    UsageError: this worker's own, or on every worker the same line naming a worker that failed
      its checks or differs from the chief (which flag, config field or input, both values).
  """
  if not in_cluster(strategy):
    local_checks()
    return
  failure = None
  try:
    local_checks()
    mine = {"run": _run_fingerprint(options)}
  except Exception as e:  # pylint: disable=broad-except
    failure = e  # the others are told, then it is raised (a bug keeps its traceback)
    mine = {"error": " ".join(str(e).split()) or type(e).__name__, "kind": type(e).__name__}
  job, index = _this_task(strategy)
  # As the others will read it (tuples become lists); an option JSON can't hold, by its kind.
  encoded = json.dumps(mine, default=lambda value: type(value).__name__)
  context.context().set_config_key_value(_RUN_KEY % (job, index), encoded)
  if failure is not None:
    raise failure
  runs = {}
  for task in _tasks(strategy):
    runs[task] = json.loads(encoded if task == (job, index) else
                            context.context().get_config_key_value(
                                _RUN_KEY % task,
                                timeout_in_ms=distribute.REGISTER_TIMEOUT_SECONDS * 1000))
  chief = _tasks(strategy)[0]
  for task, run in runs.items():  # the same order and so the same error on every worker
    if "error" in run:
      kind = getattr(errors, run["kind"], None)
      if isinstance(kind, type) and issubclass(kind, errors.ONE_LINE_ERRORS):
        raise kind("%s: %s" % (task_name(*task), run["error"]))
      raise errors.WorkerLost("%s failed before step 1: %s: %s" % (
          task_name(*task), run["kind"], run["error"]))
  for task, run in runs.items():
    differences = ["%s=%s (the chief's: %s)" % (name, json.dumps(value),
                                               json.dumps(runs[chief]["run"].get(name)))
                   for name, value in run["run"].items() if runs[chief]["run"].get(name) != value]
    if differences:
      raise errors.UsageError(
          "%s was started for another run than %s: %s. Every worker needs the same flags, "
          "config, input files and --output_dir." % (task_name(*task), task_name(*chief),
                                                     "; ".join(differences)))
  logging.info("All %d workers were started for the same run.", len(runs))


class stop_together(object):  # pylint: disable=invalid-name
  """Around training and evaluation on several workers: what stops one worker stops all.

  On this worker's own error (other than Preempted, which the workers agree on), the others are
  told at once. On an error that came from another worker, raises instead the same kind of error
  naming that worker (WorkerLost when it was lost or failed for another reason); the chief first
  saves a checkpoint when the other worker stopped on bad data at the step the chief is at.
  """

  def __init__(self, run, output_dir, save_on_data_error=True):
    self.run = run
    self.output_dir = output_dir
    self.save_on_data_error = save_on_data_error

  def __enter__(self):
    return self

  def __exit__(self, exc_type, exc, traceback):
    if exc is None or not in_cluster(self.run.strategy) or isinstance(exc, errors.Preempted):
      return False
    if isinstance(exc, tf.errors.OpError) and _from_another_worker(exc):
      raise self._other_workers_error(exc) from None
    if isinstance(exc, Exception):
      self._tell_the_others(exc)
    return False

  def _tell_the_others(self, exc):
    note = {"kind": type(exc).__name__, "step": int(self.run.global_step.numpy()),
            "line": " ".join((str(exc) or type(exc).__name__).split())}
    code = next((c for kind, c in _ERROR_CODES.items() if isinstance(exc, kind)),
                tf.errors.ABORTED)
    try:
      context.context().report_error_to_cluster(code, _NOTE + json.dumps(note))
    except Exception as e:  # pylint: disable=broad-except
      logging.warning("Could not tell the other workers why this one stops: %s", e)  # they
      # learn it when this process ends

  def _other_workers_error(self, exc):
    message = str(exc.message)
    step = int(self.run.global_step.numpy())
    task = _TASK.search(message[message.find("aborted by:"):] if "aborted by:" in message
                        else message)
    who = task_name(task.group(1), int(task.group(2))) if task else "another worker"
    if _NOTE in message:
      note = json.JSONDecoder().raw_decode(message[message.index(_NOTE) + len(_NOTE):])[0]
      kind = getattr(errors, note["kind"], None)
      if isinstance(kind, type) and issubclass(kind, errors.ONE_LINE_ERRORS):
        saved = self._save_if_chief(note["step"], step, kind)
        line = note["line"].rstrip(".") + saved + "." if saved else note["line"]
        return kind("%s: %s" % (who, line))
      return errors.WorkerLost("%s failed: %s: %s; %s stopped at step %d. %s" % (
          who, note["kind"], note["line"], "this worker", step, self._rerun()))
    return errors.WorkerLost(
        "%s was lost (TensorFlow: %s); this worker stopped at step %d. %s" % (
            who, _reason(message), step, self._rerun()))

  def _save_if_chief(self, their_step, step, kind):
    manager = self.run.checkpoints
    if not (manager.is_writer and kind is errors.DataError and self.save_on_data_error):
      return ""
    if their_step != step:  # a step in flight on this worker: its state is not one step's
      return "; the chief kept its checkpoints as they were (%s)" % self._latest()
    if manager.kept and manager.kept[-1].endswith("model.ckpt-%d" % step):
      return ""
    try:
      return "; the chief saved " + manager.save()
    except errors.WriteError as e:
      return "; the chief could not save a checkpoint (%s)" % e

  def _latest(self):
    return checkpoints.latest_checkpoint(self.output_dir) or "none yet"

  def _rerun(self):
    return "The last checkpoint is %s; rerun every worker to resume." % self._latest()


def _from_another_worker(exc):
  """Whether a TensorFlow error is another worker's stop reaching this one (through an aborted
  collective, the coordination service, or a collective's timeout)."""
  message = str(exc.message)
  if _NOTE in message or "Collective ops is aborted by" in message:
    return True
  if input_faults.is_input_error(exc):
    return False
  return isinstance(exc, (tf.errors.UnavailableError, tf.errors.DeadlineExceededError))


def _reason(message):
  """TensorFlow's own words for a lost worker, one line: what its connection or the coordination
  service said, without the node names and stack."""
  if "aborted by:" in message:
    message = message[message.index("aborted by:") + len("aborted by:"):]
  message = re.sub(r"Error reported from /job:\w+/task:\d+: ", "", message)
  lines = [line.strip() for line in message.split("\n") if line.strip()]
  text = lines[0] if lines else "no reason given"
  if text.endswith(":") and len(lines) > 1:  # "tasks are unhealthy (...):" then the tasks
    text += " " + lines[1]
  text = re.sub(r"\s*\[Op:[^\]]*\].*$", "", text)
  return text[:300]
