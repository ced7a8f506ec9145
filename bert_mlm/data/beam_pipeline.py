"""Per-file data creation as an Apache Beam pipeline: one element per input file, many machines.

  create_pretraining_data_beam.py --input_file='gs://b/shards/*.txt' --output_dir=gs://b/records \\
      --vocab_file=gs://b/vocab.txt --runner=DataflowRunner --project=P --region=R \\
      --temp_location=gs://b/tmp --setup_file=./setup.py [the data flags]

The same plan as the local pool (`per_file.plan.plan_files`: names, duplicates, resume, stale
temporaries), made by the launcher before the pipeline starts; then

  Create(one element per file to do) -> Reshuffle (spread over workers)
    -> ParDo(CreateFileFn: `per_file.jobs.run_file`, so `create_pretraining_data.create_file`)
    -> WriteToText(one JSON line per file: instances, time, memory, or the error)

and the launcher reads the report back, logs a line per file and the summary, and raises
`FilesFailedError` listing the files that failed. Outputs go through `file_io`, so `gs://`
paths are written with `tf.io.gfile` under temporary names and renamed when complete: a retried
element never leaves a partial output, and an output that exists is complete and skipped.

A file's failure (not UTF-8, no text) is its result, not an exception: Beam would retry it and
then fail the whole job, while every other file can still complete.

This is the only module that imports apache_beam (`pip install -e '.[beam]'`).
"""

import dataclasses
import json
import logging as python_logging
import os
import socket
import tempfile
import time
import uuid

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import DirectOptions
from apache_beam.options.pipeline_options import GoogleCloudOptions
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.options.pipeline_options import StandardOptions

from absl import logging

from bert_mlm.storage import file_io
from bert_mlm.data.per_file import jobs
from bert_mlm.data.per_file import memory_budget
from bert_mlm.data.per_file import plan as plan_lib
from bert_mlm.data.per_file import progress as progress_lib
from bert_mlm import create_pretraining_data
from bert_mlm.errors import UsageError

_NAMESPACE = "bert_mlm"


def _result_to_json(result):
  record = dataclasses.asdict(result)
  record["job"] = dataclasses.asdict(result.job)
  record["host"] = socket.gethostname()
  return json.dumps(record, sort_keys=True)


def _result_from_json(line):
  record = json.loads(line)
  record.pop("host", None)
  record["job"] = jobs.FileJob(**record["job"])
  return jobs.FileResult(**record)


class CreateFileFn(beam.DoFn):
  """(input path, output path, text bytes) -> the output file; yields its result as JSON."""

  def __init__(self, vocab_file, options, overwrite):
    super().__init__()
    self._vocab_file = vocab_file
    self._options = options
    self._overwrite = overwrite
    self._tokenizer = None
    self._files = beam.metrics.Metrics.counter(_NAMESPACE, "files_written")
    self._failed = beam.metrics.Metrics.counter(_NAMESPACE, "files_failed")
    self._instances = beam.metrics.Metrics.counter(_NAMESPACE, "instances")
    self._text_bytes = beam.metrics.Metrics.counter(_NAMESPACE, "text_bytes")

  def setup(self):
    # Once per worker: the vocabulary, and the tokenizer's per-word cache shared by its files.
    self._tokenizer = create_pretraining_data.load_tokenizer(self._vocab_file, self._options)

  def process(self, element):
    job = jobs.FileJob(*element)
    if not self._overwrite and file_io.exists(job.output_path):
      # A retried or repeated element whose output was completed meanwhile.
      yield _result_to_json(jobs.FileResult(job, skipped=True, worker=os.getpid()))
      return
    verbosity = logging.get_verbosity()
    logging.set_verbosity(logging.WARNING)  # one line per file, below
    try:
      result = jobs.run_file(job, self._options, tokenizer=self._tokenizer)
    finally:
      logging.set_verbosity(verbosity)
    if result.error:
      self._failed.inc()
      logging.error("FAILED %s", result.error)
    else:
      self._files.inc()
      self._instances.inc(result.instances)
      self._text_bytes.inc(job.text_bytes)
      logging.warning("%s -> %s: %d instances, %.2f MB of text in %.1f s, worker peak %.0f MB",
                      job.input_path, job.output_path, result.instances, job.text_bytes / 1e6,
                      result.seconds, result.peak_mb)
    yield _result_to_json(result)


def _runner(pipeline_options):
  """The runner to pass to beam.Pipeline, or None to let Beam pick from --runner.

  Beam 2.77's DirectRunner first tries Prism, a binary it downloads at run time and that does
  not honour --direct_running_mode. Asking for multi_processing or multi_threading means
  Beam's FnApiRunner (what the DirectRunner falls back to), so run that directly.
  """
  runner = pipeline_options.view_as(StandardOptions).runner
  mode = pipeline_options.view_as(DirectOptions).direct_running_mode
  if runner in (None, "DirectRunner") and mode in ("multi_processing", "multi_threading"):
    # pylint: disable-next=g-import-not-at-top
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    return fn_runner.FnApiRunner()
  return None


def _report_path(pipeline_options, output_dir):
  """Where the per-file results go: --temp_location, else a local temporary directory for a
  local output, else the output directory (removed once read)."""
  directory = pipeline_options.view_as(GoogleCloudOptions).temp_location
  if not directory:
    directory = output_dir if file_io.is_remote(output_dir) else tempfile.mkdtemp(
        prefix="bert_mlm_beam_")
  return file_io.join(directory, "bert_mlm_beam_report-%s.jsonl" % uuid.uuid4().hex)


def _read_report(path):
  with FileSystems.open(path) as f:
    lines = f.read().decode("utf-8").splitlines()
  FileSystems.delete([path])
  if not file_io.is_remote(path):
    try:
      os.rmdir(os.path.dirname(path))  # our temporary directory, now empty
    except OSError:
      pass
  return [_result_from_json(line) for line in lines if line.strip()]


def run(input_file, output_dir, vocab_file, options, pipeline_args, overwrite=False,
        max_memory_mb=None):
  """Runs the per-file job as a Beam pipeline and waits for it.

  Args:
    input_file, output_dir, vocab_file, options, overwrite: as `per_file.create_per_file`.
    pipeline_args: Beam's pipeline options (`--runner=...`, `--direct_num_workers=2`, ...).
    max_memory_mb: if given, the memory one file may take in a worker: larger files are an
      error before the job starts (the runner, not this launcher, decides how many files a
      machine runs at once: choose machine types and `--number_of_worker_harness_threads` so
      that that many files fit).
  Returns:
    A per_file.progress.RunSummary.
  Raises:
    UsageError before the job for bad flags, inputs or vocabulary; FilesFailedError after it
    if some files failed.
  """
  options.validate()
  create_pretraining_data.load_tokenizer(vocab_file, options)  # a bad vocabulary fails here, not there
  plan = plan_lib.plan_files(input_file, output_dir, overwrite)
  estimate = memory_budget.MemoryEstimate(options.dupe_factor)
  if max_memory_mb is not None:
    too_big = [job for job in plan.jobs if estimate(job.text_bytes) > max_memory_mb]
    if too_big:
      raise UsageError(memory_budget.too_big_message(
          too_big, estimate, max_memory_mb, max_memory_mb))
  pipeline_options = PipelineOptions(pipeline_args)
  # The local job service relays every worker's log lines; ours say what matters.
  for name in ("apache_beam.runners.portability", "apache_beam.runners.worker"):
    python_logging.getLogger(name).setLevel(python_logging.WARNING)
  logging.info("%d input files -> %s: %d to do (%.2f MB of text, largest %.2f MB), %d skipped "
               "(outputs exist%s); Beam pipeline options: %s",
               len(plan.jobs) + len(plan.skipped), output_dir, len(plan.jobs),
               sum(j.text_bytes for j in plan.jobs) / 1e6,
               plan.jobs[0].text_bytes / 1e6 if plan.jobs else 0.0, len(plan.skipped),
               "; --overwrite redoes them" if plan.skipped else "", " ".join(pipeline_args))
  for job in plan.skipped:
    logging.info("Skipped %s: %s exists (complete).", job.input_path, job.output_path)
  progress = progress_lib.Progress(plan.jobs, len(plan.skipped), num_workers=0)
  if plan.jobs:
    report_path = _report_path(pipeline_options, output_dir)
    start = time.time()
    with beam.Pipeline(runner=_runner(pipeline_options), options=pipeline_options) as pipeline:
      _ = (pipeline
           | "Files" >> beam.Create([(j.input_path, j.output_path, j.text_bytes)
                                     for j in plan.jobs])
           | "Spread" >> beam.Reshuffle()
           | "CreateFile" >> beam.ParDo(CreateFileFn(vocab_file, options, overwrite))
           | "Report" >> beam.io.WriteToText(report_path, shard_name_template=""))
    logging.info("Pipeline finished in %.1f s.", time.time() - start)
    results = _read_report(report_path)
    workers = {r.worker for r in results}
    progress.num_workers = len(workers)
    order = {job.input_path: index for index, job in enumerate(plan.jobs)}
    for result in sorted(results, key=lambda r: order.get(r.job.input_path, 0)):
      progress.report(result)
    missing = set(order) - {r.job.input_path for r in results}
    for path in sorted(missing):  # should not happen: every element yields a result
      progress.report(jobs.FileResult(
          plan.jobs[order[path]], error="%s: no result from the pipeline." % path))
  summary = progress.summary()
  progress_lib.raise_for_failures(summary)
  return summary
