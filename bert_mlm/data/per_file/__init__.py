"""Per-file data creation on every core: each input file alone -> `<output_dir>/<name>.tfrecord`.

  create_pretraining_data.py --input_file='shards/*.txt' --output_dir=out --num_workers=8 ...

The recipe for a large corpus is to cut it into shards (`data.sharding`) and run the original
once per shard. This package is that recipe as one call, `create_per_file`:

  * Each file is processed exactly as the original processes that file alone with the same
    flags and seed (`create_pretraining_data.create_file`): the output for a file does not
    depend on the other files, the number of workers or the order they run in.
  * plan           input files -> outputs; resume: an existing output is complete and skipped
  * jobs           one file's job, run in a worker, in this process or in a Beam worker
  * memory_budget  a worker's peak per MB of text; which file fits next within the budget
  * worker_pool    worker processes, at most `num_workers` at a time; a dead worker is its
                   file's failure, the other files complete
  * progress       a line per file (rate, ETA), the summary, `FilesFailedError` at the end

No TensorFlow is imported, here or in the workers, unless a path is remote (`gs://`).
(`data.beam_pipeline` runs the same plan and jobs as an Apache Beam pipeline.)
"""

from absl import logging

from bert_mlm import create_pretraining_data
from bert_mlm.data.per_file import memory_budget
from bert_mlm.data.per_file import plan
from bert_mlm.data.per_file import progress
from bert_mlm.data.per_file import worker_pool
from bert_mlm.errors import UsageError


def create_per_file(input_file, output_dir, vocab_file, options, num_workers=None,
                    max_memory_mb=None, overwrite=False):
  """Every input file on its own -> `<output_dir>/<input file name>.tfrecord`, in parallel.

  Args:
    input_file: comma-separated paths or globs (`--input_file`).
    output_dir: where the outputs go; created if missing.
    vocab_file, options: as for `create_pretraining_data.create_pretraining_data`.
    num_workers: worker processes (default: the CPUs); 1 runs every file in this process.
    max_memory_mb: the memory budget of the whole run (default: 90% of the available memory).
    overwrite: redo files whose outputs exist (by default they are complete and skipped).
  Returns:
    A progress.RunSummary.
  Raises:
    UsageError: bad flags, inputs or vocabulary, or a file too big for the budget (before any
      work); progress.FilesFailedError (a UsageError) after the run if some files failed.

  As with any multiprocessing code, a script that calls this with `num_workers` > 1 does so
  under `if __name__ == "__main__":` (workers import the main module).
  """
  options.validate()
  if num_workers is None:
    num_workers = worker_pool.default_num_workers()
  if num_workers < 1:
    raise UsageError("--num_workers=%d must be >= 1." % num_workers)
  if max_memory_mb is None:
    max_memory_mb = memory_budget.default_memory_budget_mb()
  if max_memory_mb <= 0:
    raise UsageError("--max_memory_mb=%r must be > 0." % max_memory_mb)
  # The vocabulary is checked here, once, before any worker starts.
  tokenizer = create_pretraining_data.load_tokenizer(vocab_file, options)
  run_plan = plan.plan_files(input_file, output_dir, overwrite)
  num_workers = max(1, min(num_workers, len(run_plan.jobs)))
  estimate = memory_budget.MemoryEstimate(options.dupe_factor)
  # In-process, the estimate's base is this process. With workers, this process and the
  # helper processes come off the budget first.
  available_mb = max_memory_mb
  context = worker_pool.worker_context() if num_workers > 1 else None
  if context is not None:
    available_mb -= memory_budget.rss_mb() + (
        0.0 if context.get_start_method() == "fork" else memory_budget.HELPER_PROCESSES_MB)
  too_big = [job for job in run_plan.jobs if estimate(job.text_bytes) > available_mb]
  if too_big:
    raise UsageError(memory_budget.too_big_message(too_big, estimate, available_mb,
                                                   max_memory_mb))

  logging.info("%d input files -> %s: %d to do (%.2f MB of text, largest %.2f MB), %d skipped "
               "(outputs exist%s); %d worker%s, memory budget %.0f MB, a worker needs about %s.",
               len(run_plan.jobs) + len(run_plan.skipped), output_dir, len(run_plan.jobs),
               sum(j.text_bytes for j in run_plan.jobs) / 1e6,
               run_plan.jobs[0].text_bytes / 1e6 if run_plan.jobs else 0.0, len(run_plan.skipped),
               "; --overwrite redoes them" if run_plan.skipped else "", num_workers,
               "" if num_workers == 1 else "s", max_memory_mb, estimate.describe())
  for job in run_plan.skipped:
    logging.info("Skipped %s: %s exists (complete).", job.input_path, job.output_path)
  run_progress = progress.Progress(run_plan.jobs, len(run_plan.skipped), num_workers)
  # In-process, this process is the one worker, alive from the start.
  scheduler = memory_budget.Scheduler(run_plan.jobs, num_workers, available_mb, estimate,
                                      processes=1 if num_workers == 1 else 0)
  if num_workers == 1:
    worker_pool.run_in_process(scheduler, tokenizer, options, run_progress.report)
  else:
    worker_pool.run_pool(context, scheduler, tokenizer, vocab_file, options,
                         run_progress.report)
  summary = run_progress.summary(scheduler, max_memory_mb)
  progress.raise_for_failures(summary)
  return summary
