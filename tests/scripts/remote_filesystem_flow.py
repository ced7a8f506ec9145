"""The whole job on a non-local filesystem (TensorFlow's in-memory `ram://`), nothing on local disk.

Run by tests/test_remote_filesystem.py in its own process: `ram://` lives in one process's memory,
and the audit hook below cannot be removed once added. Arguments: repo, scratch directory (the
working directory and TMPDIR, empty). Prints one line `REMOTE_OK <json>` when the flow finished.

Once the inputs (corpus, vocab, config) are copied onto `ram://`, a Python audit hook fails any
local write (`open` for writing, `os.rename`/`remove`/`mkdir`/...) and any local access to a
mangled URL (`ram:/...`), and records it: data creation, training with a checkpoint every step
(so the state file rotates), resume, eval, an init checkpoint given as a directory, and stripping
all run through the command lines' main functions or the one function they call. TensorFlow's
own C++ file access is not seen by the hook; the test checks that the working directory stays
empty and that TMPDIR holds only autograph's generated code.
"""

import json
import os
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ writes from modules imported late
sys.path.insert(0, sys.argv[1])

from absl import flags  # pylint: disable=wrong-import-position
import tensorflow as tf  # pylint: disable=wrong-import-position

from bert_mlm.storage import checkpoints  # pylint: disable=wrong-import-position
from bert_mlm import create_pretraining_data  # pylint: disable=wrong-import-position
import run_pretraining  # pylint: disable=wrong-import-position
from tests import helpers  # pylint: disable=wrong-import-position

ROOT = "ram://bucket"
CONFIG = dict(vocab_size=1042, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
              intermediate_size=64, hidden_act="gelu", hidden_dropout_prob=0.1,
              attention_probs_dropout_prob=0.1, max_position_embeddings=32, type_vocab_size=2,
              initializer_range=0.02)
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_WRITE_EVENTS = ("os.rename", "os.remove", "os.rmdir", "os.mkdir", "os.truncate", "os.symlink",
                 "os.link", "os.chmod", "os.chown", "os.utime", "shutil.copyfile", "shutil.rmtree",
                 "shutil.move", "shutil.copytree")
_READ_EVENTS = ("os.listdir", "os.scandir", "glob.glob")
violations = []
_guard = {"on": False}


def _text(path):
  if isinstance(path, bytes):
    return path.decode("utf-8", "replace")
  return path if isinstance(path, str) else os.fspath(path) if hasattr(path, "__fspath__") else None


def _allowed_write(path):
  # TensorFlow's autograph writes the code it generates for tf.functions to the temporary
  # directory (after `tempfile` probes it); the test checks that nothing else is left there.
  return path.startswith(tempfile.gettempdir() + "/") or path == tempfile.gettempdir() or (
      path.startswith("/dev/"))


def _audit(event, args):
  if not _guard["on"]:
    return
  paths = []
  writing = False
  if event == "open":
    path, mode, open_flags = args
    paths = [_text(path)]
    writing = ((isinstance(mode, str) and any(c in mode for c in "wax+"))
               or bool((open_flags or 0) & _WRITE_FLAGS))
  elif event in _WRITE_EVENTS:
    paths, writing = [_text(a) for a in args[:2]], True
  elif event in _READ_EVENTS:
    paths = [_text(args[0]) if args else "."]
  for path in paths:
    if path is None or "://" in path:
      continue
    if "ram:" in path or (writing and not _allowed_write(path)):
      violations.append("%s %s" % (event, path))
      raise PermissionError("local disk touched during the remote run: %s %s" % (event, path))


def _copy_in(local, remote, lines=None):
  with open(local, encoding="utf-8") as f:
    text = f.read() if lines is None else "".join(f.readlines()[:lines])
  with tf.io.gfile.GFile(remote, "w") as f:
    f.write(text)


def _main_with_flags(module, argv):
  """Runs a command's run() on `argv`, as its main() would after parsing its flags."""
  flags.FLAGS.unparse_flags()
  flags.FLAGS([module.__file__] + argv)
  module.run([module.__file__])


def main(repo):
  _copy_in(os.path.join(repo, "sample_data", "corpus.txt"), ROOT + "/text/corpus.txt", lines=600)
  _copy_in(os.path.join(repo, "sample_data", "vocab.txt"), ROOT + "/vocab.txt")
  with tf.io.gfile.GFile(ROOT + "/bert_config.json", "w") as f:
    json.dump(CONFIG, f)
  sys.addaudithook(_audit)
  _guard["on"] = True

  # Data: a glob over the bucket in, two round-robin outputs.
  written = create_pretraining_data.create_pretraining_data(
      ROOT + "/text/*.txt", ROOT + "/data/train-0.tfrecord," + ROOT + "/data/train-1.tfrecord",
      ROOT + "/vocab.txt", create_pretraining_data.DataOptions(max_seq_length=32,
                                                        max_predictions_per_seq=5, dupe_factor=1))
  common = ["--bert_config_file=" + ROOT + "/bert_config.json", "--vocab_file=" + ROOT +
            "/vocab.txt", "--input_file=" + ROOT + "/data/train-*.tfrecord",
            "--max_seq_length=32", "--max_predictions_per_seq=5", "--train_batch_size=8",
            "--eval_batch_size=8", "--max_eval_steps=2", "--num_warmup_steps=2",
            "--learning_rate=1e-3", "--save_checkpoints_steps=1", "--iterations_per_loop=1",
            "--seed=1"]
  out = ROOT + "/out"
  # Train 4 steps with a checkpoint every step, then resume to 7 and evaluate: 8 checkpoints,
  # the newest 5 kept, the rest deleted from the bucket.
  _main_with_flags(run_pretraining, common + ["--output_dir=" + out, "--do_train",
                                              "--num_train_steps=4"])
  after_first = checkpoints.latest_checkpoint(out)
  _main_with_flags(run_pretraining, common + ["--output_dir=" + out, "--do_train", "--do_eval",
                                              "--num_train_steps=7"])
  # Evaluate elsewhere from an init checkpoint given as a directory (its `checkpoint` file).
  _main_with_flags(run_pretraining, common + ["--output_dir=" + ROOT + "/eval_only",
                                              "--do_eval", "--init_checkpoint=" + out])
  # strip_checkpoint.py's main is this one call (its flags can't be defined beside
  # run_pretraining.py's in one process: both have --dry_run).
  checkpoints.strip_optimizer_slots(out, ROOT + "/release/bert_model.ckpt")
  _guard["on"] = False

  with tf.io.gfile.GFile(out + "/eval_results.txt") as f:
    eval_results = dict(line.split(" = ") for line in f.read().splitlines())
  summary = dict(
      examples=written,
      data=sorted(tf.io.gfile.listdir(ROOT + "/data")),
      after_first=after_first,
      kept=checkpoints.read_checkpoint_state(out),
      out_files=sorted(tf.io.gfile.listdir(out)),
      eval_results=eval_results,
      eval_only_results=tf.io.gfile.exists(ROOT + "/eval_only/eval_results.txt"),
      eval_only_files=sorted(tf.io.gfile.listdir(ROOT + "/eval_only")),
      release=sorted(checkpoints.CheckpointReader(ROOT + "/release/bert_model.ckpt").shapes),
      train_scalars=sorted(helpers.read_scalars(out)),
      total_loss_steps=[step for step, _ in helpers.read_scalars(out)["total_loss"]],
      eval_scalars=helpers.read_scalars(out + "/eval"),
      violations=violations)
  print("REMOTE_OK " + json.dumps(summary))


if __name__ == "__main__":
  main(sys.argv[1])
