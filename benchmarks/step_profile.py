"""Where a training step's time goes, op by op: ours against Model Garden's, on the same batches.

Traces `--steps` steps of each (after warm-up) with `tf.profiler`, reads the trace (XPlane) and
prints, per step, the wall time and the time of the host's TensorFlow ops summed by op type
(an op's time is its own span; ops that run at the same time on different threads are each
counted, so the sum can exceed the step) and the top ops by name. Under XLA the compiled
cluster is one op unless `XLA_FLAGS=--xla_cpu_enable_xprof_traceme=true` (set here), which
adds each compiled HLO kernel's span.

  python3 benchmarks/step_profile.py --config L4/H256/A4 --batch 32 [--xla] [--with_model_garden]

Model Garden's step runs in its own virtual environment (see train_throughput.py), through
model_garden_peer.py --profile_dir; the same summary is printed for it.
"""

import argparse
import collections
import glob
import os
import re
import subprocess
import sys
import time

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_enable_xprof_traceme=true")


# Spans of the runtime around the ops (the whole function, the executor), not ops.
_FRAMEWORK = ("EagerLocalExecute", "EagerExecute", "MemoryAllocation", "FunctionRun", "end: ")
_FRAMEWORK_SPANS = {"TFE_Py_ExecuteCancelable", "EagerExecute", "EagerKernelExecute", "ParallelFor",
                    "BlockUntilReady", "PrefetchProduce", "FunctionRun", "tf.constant",
                    "_loop_fn", "train_step", "ThreadpoolListener::Region"}


def summarize(log_dir, steps, top=25, label=""):
  """Prints op time per step by type and by name from the newest trace under log_dir."""
  from tensorflow.tsl.profiler.protobuf import xplane_pb2  # pylint: disable=g-import-not-at-top
  path = sorted(glob.glob(os.path.join(log_dir, "plugins", "profile", "*", "*.xplane.pb")))[-1]
  space = xplane_pb2.XSpace()
  with open(path, "rb") as f:
    space.ParseFromString(f.read())
  by_type = collections.Counter()
  by_name = collections.Counter()
  threads = collections.Counter()
  for plane in space.planes:
    if not plane.name.startswith("/host:CPU"):
      continue
    for line in plane.lines:
      for event in line.events:
        name = plane.event_metadata[event.metadata_id].name
        seconds = event.duration_ps / 1e12
        if name.startswith("Iterator::"):
          by_type["(tf.data) " + name.split("::")[1]] += seconds
        elif (":" not in name and name not in _FRAMEWORK_SPANS and not name.startswith("__")
              and not re.match(r"call(\.\d+)?$", name)):  # a call spans the kernels inside it
          # An XLA-compiled kernel (HLO instruction or fusion; ynn_: XNNPACK/YNNPACK's).
          by_type["XLA " + re.sub(r"(\.clone|\.\d+)+$", "", name)] += seconds
          by_name["XLA " + name] += seconds
          threads[line.name] += seconds
        elif (":" in name and "::" not in name and not name.startswith(_FRAMEWORK)
              and not name.startswith("__inference")):  # a whole compiled function as an op
          op_name, op_type = name.rsplit(":", 1)
          by_type[op_type] += seconds
          by_name[name] += seconds
          threads[line.name] += seconds
  total = sum(v for k, v in by_type.items() if not k.startswith("(tf.data)"))
  xla = sum(v for k, v in by_type.items() if k.startswith("XLA "))
  print("%s: op time per step %.1f ms (summed over threads), of which XLA-compiled kernels %.1f ms"
        % (label, 1000 * total / steps, 1000 * xla / steps))
  print("| op type | ms per step | share |")
  print("|---|---|---|")
  for op_type, seconds in by_type.most_common(top):
    print("| %s | %.1f | %.0f%% |" % (op_type, 1000 * seconds / steps, 100 * seconds / total))
  print("\ntop ops by name:")
  for name, seconds in by_name.most_common(top):
    print("  %7.1f ms  %s" % (1000 * seconds / steps, name[-140:]))
  print("\nop time by thread:")
  for name, seconds in threads.most_common(8):
    print("  %7.1f ms  %s" % (1000 * seconds / steps, name))
  sys.stdout.flush()


def profile_ours(config, batch, use_xla, steps, warmup, log_dir):
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  import train_throughput  # pylint: disable=g-import-not-at-top
  from bert_mlm import allocator  # pylint: disable=g-import-not-at-top
  from bert_mlm.config import BertConfig  # pylint: disable=g-import-not-at-top
  from bert_mlm.training import loop  # pylint: disable=g-import-not-at-top
  allocator.tune_malloc()
  bert_config = BertConfig(vocab_size=30522, max_position_embeddings=512, type_vocab_size=2,
                           **train_throughput.CONFIGS[config])
  strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
  options = loop.PretrainingOptions(
      bert_config=bert_config, input_files=[], output_dir="", max_seq_length=128,
      max_predictions_per_seq=20, train_batch_size=batch, learning_rate=1e-4,
      num_train_steps=10 ** 6, num_warmup_steps=0, use_xla=use_xla)
  run = loop.Pretraining(options, strategy)
  data = train_throughput.synthetic_batches(batch, 128, 20, bert_config.vocab_size)
  dataset = tf.data.Dataset.from_tensor_slices(
      {k: np.stack([b[k] for b in data]) for k in data[0]}).repeat()
  iterator = iter(strategy.experimental_distribute_dataset(dataset))
  run.train_step.run(iterator, warmup)
  start = time.time()
  run.train_step.run(iterator, steps)
  print("ours untraced: %.1f ms per step" % (1000 * (time.time() - start) / steps))
  tf.profiler.experimental.start(log_dir)
  start = time.time()
  run.train_step.run(iterator, steps)
  print("ours traced: %.1f ms per step" % (1000 * (time.time() - start) / steps))
  tf.profiler.experimental.stop()


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--config", default="L4/H256/A4")
  parser.add_argument("--batch", type=int, default=32)
  parser.add_argument("--xla", action="store_true")
  parser.add_argument("--steps", type=int, default=5)
  parser.add_argument("--warmup", type=int, default=3)
  parser.add_argument("--top", type=int, default=25)
  parser.add_argument("--log_dir", default="/tmp/bert_mlm_step_profile")
  parser.add_argument("--with_model_garden", action="store_true")
  parser.add_argument("--venv", default="/tmp/bert_mlm_model_garden_venv")
  parser.add_argument("--summarize_only", help="a trace directory to summarize (internal)")
  args = parser.parse_args()
  if args.summarize_only:
    summarize(args.summarize_only, args.steps, args.top, "Model Garden")
    return
  tag = "%s_b%d_%s" % (args.config.replace("/", ""), args.batch, "xla" if args.xla else "noxla")
  ours_dir = os.path.join(args.log_dir, "ours_" + tag)
  profile_ours(args.config, args.batch, args.xla, args.steps, args.warmup, ours_dir)
  summarize(ours_dir, args.steps, args.top, "ours")
  if args.with_model_garden:
    here = os.path.dirname(os.path.abspath(__file__))
    python = os.path.join(args.venv, "bin", "python")
    peer_dir = os.path.join(args.log_dir, "peer_" + tag)
    command = [python, os.path.join(here, "model_garden_peer.py"), "--config", args.config,
               "--batch", str(args.batch), "--steps", str(args.steps), "--warmup",
               str(args.warmup), "--profile_dir", peer_dir] + (["--xla"] if args.xla else [])
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode:
      sys.exit("Model Garden peer failed:\n" + result.stderr[-3000:])
    print("Model Garden:", result.stdout.strip().splitlines()[-1])
    subprocess.run([python, os.path.abspath(__file__), "--summarize_only", peer_dir,
                    "--steps", str(args.steps), "--top", str(args.top)], check=True, env=env)


if __name__ == "__main__":
  main()
