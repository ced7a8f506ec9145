"""Training throughput of our pretraining step, and its share of the machine's float32 matmul peak.

For each config: synthetic pretraining batches (random ids, 15% predictions), `--steps` timed
optimizer steps after `--warmup` untimed ones, through the real training step (train_step.TrainStep:
forward, backward, clipping, AdamWeightDecay), with and without XLA. Prints sequences/s, the
FLOPs each step executes (6 x forward matmul FLOPs: encoder, attention, masked LM head; the
last layer at the masked positions only, as the step runs it) and that rate as a fraction of the
measured peak of a large float32 matmul on this machine, beside every row. On a shared machine,
the CPU time each step takes (user + system, ours and the peer's process) is the steadier
comparison: wall time is whatever share of the cores the other jobs leave. Every row of ours
runs in a fresh process, as every row of the peer's does.

  python benchmarks/train_throughput.py [--with_model_garden]

With --with_model_garden, each row also runs TensorFlow Model Garden's BertPretrainerV2 step
(`model_garden_peer.py`) in its own virtual environment (created on first use under --venv with
tf-models-official 2.20, TensorFlow 2.20 and tf-keras from PyPI) and prints ours over the peer's.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bert_mlm import allocator  # pylint: disable=wrong-import-position
from bert_mlm.training import loop  # pylint: disable=wrong-import-position
from bert_mlm.config import BertConfig  # pylint: disable=wrong-import-position

CONFIGS = {
    "L4/H256/A4": dict(num_hidden_layers=4, hidden_size=256, num_attention_heads=4,
                       intermediate_size=1024),
    "BERT-Base": dict(num_hidden_layers=12, hidden_size=768, num_attention_heads=12,
                      intermediate_size=3072),
}


def matmul_peak_gflops(n=2048, repeats=10):
  a = tf.random.normal([n, n])
  b = tf.random.normal([n, n])
  matmul = tf.function(lambda x, y: tf.matmul(x, y))
  matmul(a, b).numpy()
  start = time.time()
  for _ in range(repeats):
    result = matmul(a, b)
  result.numpy()
  return 2.0 * n ** 3 * repeats / (time.time() - start) / 1e9


def cpu_line():
  """'Intel(R) Xeon(R) Processor, AVX-512 (avx512f), 2 cores' from /proc/cpuinfo: what the
  step's kernels can use (AVX2-only CPUs run the same step at half the vector width)."""
  model, flags = "unknown CPU", set()
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        key, _, value = line.partition(":")
        if key.strip() == "model name" and model == "unknown CPU":
          model = value.strip()
        elif key.strip() == "flags" and not flags:
          flags = set(value.split())
  except OSError:
    pass
  if "avx512f" in flags:
    vector = "AVX-512 (avx512f%s)" % (", amx" if "amx_tile" in flags else "")
  elif "avx2" in flags:
    vector = "AVX2%s, no AVX-512" % (" + FMA" if "fma" in flags else "")
  else:
    vector = "no AVX2"
  limits = [name + "=" + os.environ[name] for name in ("ONEDNN_MAX_CPU_ISA",)
            if os.environ.get(name)]
  limits += [flag for flag in os.environ.get("XLA_FLAGS", "").split()
             if flag.startswith("--xla_cpu_max_isa")]
  return "%s, %s, %d cores%s" % (model, vector, os.cpu_count(),
                                 " (limited to: %s)" % ", ".join(limits) if limits else "")


def train_flops_per_sequence(c, seq, predictions):
  """6 x the forward matmul multiply-adds our step executes: every layer at every position but
  the last, which runs its key and value projections everywhere and the rest at the masked
  positions and [CLS] only (masked_positions_only); then the masked LM head."""
  h, i, v, layers = c.hidden_size, c.intermediate_size, c.vocab_size, c.num_hidden_layers
  per_token = 4 * h * h + 2 * h * i + 2 * seq * h  # Q, K, V, output; feed-forward; attention
  last_layer = seq * 2 * h * h + (predictions + 1) * (2 * h * h + 2 * h * i + 2 * seq * h)
  forward_macs = (layers - 1) * seq * per_token + last_layer + predictions * (h * h + h * v)
  return 6.0 * forward_macs


def synthetic_batches(batch, seq, predictions, vocab, count=4, seed=0):
  rng = np.random.RandomState(seed)
  batches = []
  for _ in range(count):
    positions = np.sort(np.stack([rng.choice(np.arange(1, seq - 1), predictions, replace=False)
                                  for _ in range(batch)]), axis=1)
    batches.append(dict(
        input_ids=rng.randint(0, vocab, (batch, seq)).astype(np.int32),
        input_mask=np.ones((batch, seq), np.int32),
        segment_ids=np.repeat([[0] * (seq // 2) + [1] * (seq - seq // 2)], batch, 0).astype(np.int32),
        masked_lm_positions=positions.astype(np.int32),
        masked_lm_ids=rng.randint(0, vocab, (batch, predictions)).astype(np.int32),
        masked_lm_weights=np.ones((batch, predictions), np.float32),
        next_sentence_labels=rng.randint(0, 2, (batch, 1)).astype(np.int32)))
  return batches


def measure(name, batch, seq, predictions, use_xla, steps, warmup):
  config = BertConfig(vocab_size=30522, max_position_embeddings=512, type_vocab_size=2,
                      **CONFIGS[name])
  strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
  options = loop.PretrainingOptions(
      bert_config=config, input_files=[], output_dir="", max_seq_length=seq,
      max_predictions_per_seq=predictions, train_batch_size=batch, learning_rate=1e-4,
      num_train_steps=10 ** 6, num_warmup_steps=0, use_xla=use_xla)
  run = loop.Pretraining(options, strategy)
  data = synthetic_batches(batch, seq, predictions, config.vocab_size)
  dataset = tf.data.Dataset.from_tensor_slices(
      {k: np.stack([b[k] for b in data]) for k in data[0]}).repeat()
  iterator = iter(strategy.experimental_distribute_dataset(dataset))
  run.train_step.run(iterator, warmup)
  start, cpu_start = time.time(), time.process_time()
  run.train_step.run(iterator, steps)
  seconds = time.time() - start
  cpu_seconds = time.process_time() - cpu_start
  sequences_per_second = steps * batch / seconds
  return (sequences_per_second,
          sequences_per_second * train_flops_per_sequence(config, seq, predictions) / 1e9,
          cpu_seconds / (steps * batch))


_PEER_PACKAGES = ["tensorflow==2.20.0", "tf-keras==2.20.1", "gin-config", "pyyaml", "six",
                  "absl-py", "scipy"]
_PEER_NO_DEPS = ["tf-models-official==2.20.0", "tensorflow-text==2.20.1"]


def peer_python(venv):
  """The peer's interpreter, creating its virtual environment on first use."""
  python = os.path.join(venv, "bin", "python")
  if not os.path.exists(python):
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q"] + _PEER_PACKAGES, check=True)
    # Only the NLP modeling code is used; its other dependencies (vision, datasets) are not.
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps"] + _PEER_NO_DEPS,
                   check=True)
  return python


# allocator.SETTINGS from outside the process, for the peer.
PEER_GLIBC_TUNABLES = ("glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=2147483647:"
                       "glibc.malloc.top_pad=67108864")


def measure_fresh(name, batch, use_xla, steps, warmup):
  """measure() in a new process of this script, as the peer's rows run: in one process, a row
  run after the others measured slower (benchmarks/README.md)."""
  command = [sys.executable, os.path.abspath(__file__), "--measure_row", name, "--batch",
             str(batch), "--steps", str(steps), "--warmup", str(warmup)]
  result = subprocess.run(command + (["--use_xla"] if use_xla else []), capture_output=True,
                          text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
  if result.returncode:
    sys.exit("our row failed:\n" + result.stderr[-3000:])
  return json.loads(result.stdout.strip().splitlines()[-1])


def measure_peer(python, name, batch, use_xla, steps, warmup, malloc_tuning=False):
  command = [python, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                  "model_garden_peer.py"), "--config", name,
             "--batch", str(batch), "--steps", str(steps), "--warmup", str(warmup)]
  result = subprocess.run(command + (["--xla"] if use_xla else []), capture_output=True,
                          text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
                                              **({"GLIBC_TUNABLES": PEER_GLIBC_TUNABLES}
                                                 if malloc_tuning else {})))
  if result.returncode:
    sys.exit("Model Garden peer failed:\n" + result.stderr[-3000:])
  measured = json.loads(result.stdout.strip().splitlines()[-1])
  return measured["sequences_per_second"], measured["cpu_seconds_per_sequence"]


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--steps", type=int, default=10)
  parser.add_argument("--warmup", type=int, default=3)
  parser.add_argument("--with_model_garden", action="store_true")
  parser.add_argument("--venv", default="/tmp/bert_mlm_model_garden_venv",
                      help="the peer's virtual environment (created if missing)")
  parser.add_argument("--peer_malloc_tuning", action="store_true",
                      help="give the peer our malloc settings too (GLIBC_TUNABLES)")
  parser.add_argument("--configs", default="L4/H256/A4,BERT-Base")
  parser.add_argument("--measure_row", choices=sorted(CONFIGS),
                      help="(internal) measure this config in this process and print the "
                      "result as JSON")
  parser.add_argument("--batch", type=int, help="(internal, with --measure_row)")
  parser.add_argument("--use_xla", action="store_true", help="(internal, with --measure_row)")
  args = parser.parse_args()
  if args.measure_row and args.batch is None:
    parser.error("--measure_row needs --batch")
  if not args.measure_row and (args.batch is not None or args.use_xla):
    parser.error("--batch and --use_xla go with --measure_row (the rows' batches and XLA "
                 "settings are fixed)")
  allocator.tune_malloc()  # as our commands do
  if args.measure_row:
    print(json.dumps(measure(args.measure_row, args.batch, 128, 20, args.use_xla, args.steps,
                             args.warmup)))
    return
  python = peer_python(args.venv) if args.with_model_garden else None
  cpu = cpu_line()
  print("CPU: %s; load average %.1f" % (cpu, os.getloadavg()[0]))
  print("| config | batch | seq | predictions | XLA | sequences/s | executed GFLOP/s | of peak |"
        " Model Garden sequences/s | ours / Model Garden | CPU ms per sequence, ours / Model Garden"
        " | ours / Model Garden by CPU time | matmul peak GFLOP/s | load | CPU |")
  print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
  for name, batch in (("L4/H256/A4", 32), ("BERT-Base", 8)):
    if name not in args.configs.split(","):
      continue
    for use_xla in (False, True):
      # The peak is measured beside every row: on a shared machine it moves with the load.
      peak = matmul_peak_gflops()
      sequences, gflops, cpu_per_sequence = measure_fresh(name, batch, use_xla, args.steps,
                                                          args.warmup)
      peer, peer_cpu_per_sequence = (
          measure_peer(python, name, batch, use_xla, args.steps, args.warmup,
                       args.peer_malloc_tuning) if python else (float("nan"), float("nan")))
      print("| %s | %d | 128 | 20 | %s | %.1f | %.1f | %.0f%% | %.1f | %.2fx | %.0f / %.0f | "
            "%.2fx | %.0f | %.1f | %s |" % (
                name, batch, "yes" if use_xla else "no", sequences, gflops,
                100 * gflops / peak, peer, sequences / peer, 1000 * cpu_per_sequence,
                1000 * peer_cpu_per_sequence, peer_cpu_per_sequence / cpu_per_sequence, peak,
                os.getloadavg()[0], cpu), flush=True)


if __name__ == "__main__":
  main()
