"""The commands as a user installs them: a wheel in a fresh virtual environment, no checkout.

Also: one way from flags to options (each flag's default is its options field's), and the top-level
scripts, `python -m bert_mlm.cli.<name>` and the console scripts are the same command.
"""

import dataclasses
import json
import os
import subprocess
import sys

import pytest

from tests import helpers

COMMANDS = ("create_pretraining_data", "create_pretraining_data_beam", "run_pretraining",
            "convert_checkpoint", "export_savedmodel", "create_vocab", "shard_text",
            "strip_checkpoint", "plot_training")
# absl's --help prints to stdout and exits with status 1 (as the original's scripts did).
_HELP_STATUS = 1


def _env_without_checkout():
  env = dict(os.environ)
  env.pop("PYTHONPATH", None)
  return env


def _flag_defaults(module):
  """{flag: (default, parser class)} of a command module, read in a fresh process."""
  script = ("import json, sys\n"
            "from absl import flags\n"
            "import bert_mlm.cli.%s\n"
            "flags.FLAGS(['x'])\n"
            "print(json.dumps({f.name: [f.default, type(f.parser).__name__] for f in\n"
            "  flags.FLAGS.get_key_flags_for_module('bert_mlm.cli.%s')}))\n" % (module, module))
  result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=helpers.REPO, env=dict(os.environ, PYTHONPATH=helpers.REPO))
  assert result.returncode == 0, result.stderr[-2000:]
  return json.loads(result.stdout.splitlines()[-1])


def test_flags_take_their_defaults_from_the_options():
  from bert_mlm import create_pretraining_data  # pylint: disable=g-import-not-at-top
  from bert_mlm.data import vocab_learning  # pylint: disable=g-import-not-at-top
  for module, options_class in (("create_pretraining_data", create_pretraining_data.DataOptions),
                                ("create_pretraining_data_beam",
                                 create_pretraining_data.DataOptions),
                                ("create_vocab", vocab_learning.VocabOptions)):
    defaults = _flag_defaults(module)
    for field in dataclasses.fields(options_class):
      assert defaults[field.name][0] == field.default, (module, field.name)
  # The Beam command has its own flags: Beam's --num_workers is not ours, and no flag of the
  # single-output mode.
  beam = _flag_defaults("create_pretraining_data_beam")
  assert "num_workers" not in beam and "output_file" not in beam and "max_memory_mb" in beam


@pytest.mark.slow
def test_training_flags_take_their_defaults_from_the_options():
  from bert_mlm.training import loop  # pylint: disable=g-import-not-at-top
  defaults = _flag_defaults("run_pretraining")
  fields = {f.name: f for f in dataclasses.fields(loop.PretrainingOptions)}
  # --dynamic_masking is a switch; the field holds the masking it builds.
  flagged = [name for name in fields if name in defaults and name != "dynamic_masking"]
  assert len(flagged) >= 20, flagged
  for name in flagged:
    if fields[name].default is not dataclasses.MISSING:
      assert defaults[name][0] == fields[name].default, name
  # The original's defaults, which the options hold.
  assert defaults["learning_rate"][0] == 5e-5 and defaults["num_train_steps"][0] == 100000
  assert defaults["iterations_per_loop"][0] == 1000 and defaults["eval_batch_size"][0] == 8


def test_script_module_and_help_agree(tmp_path):
  """`python shard_text.py --help` and `python -m bert_mlm.cli.shard_text --help` print the
  command's docstring and its flags."""
  outputs = []
  for argv in ([os.path.join(helpers.REPO, "shard_text.py")], ["-m", "bert_mlm.cli.shard_text"]):
    result = subprocess.run([sys.executable] + argv + ["--help"], capture_output=True,
                            text=True, cwd=str(tmp_path), env=dict(os.environ, PYTHONPATH=helpers.REPO))
    assert result.returncode == _HELP_STATUS, result.stderr[-2000:]
    assert "Cuts pretraining text into shards" in result.stdout
    for flag in ("--input_file", "--output_dir", "--num_shards", "--shard_megabytes",
                 "--[no]overwrite"):
      assert flag in result.stdout, (argv, flag, result.stdout)
    # The flags, after the line naming the file run (`<path>:`).
    flags_part = result.stdout[result.stdout.index("\nflags:\n"):]
    outputs.append(flags_part[flags_part.index(".py:\n"):])
  assert outputs[0] == outputs[1]


def test_beam_dry_run_checks_and_writes_nothing(tmp_path):
  """The Beam command's --dry_run (its own flag) checks the per-file run without Beam."""
  out = tmp_path / "records"

  def dry_run(*flags):
    return subprocess.run(
        [sys.executable, os.path.join(helpers.REPO, "create_pretraining_data_beam.py"), "--dry_run",
         "--input_file=" + os.path.join(helpers.REPO, "sample_data", "corpus.txt"),
         "--vocab_file=" + os.path.join(helpers.REPO, "sample_data", "vocab.txt"),
         "--output_dir=" + str(out)] + list(flags),
        capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=helpers.REPO), timeout=300)

  result = dry_run("--runner=DirectRunner")
  assert result.returncode == 0, result.stderr[-2000:]
  assert "dry run" in result.stderr.lower(), result.stderr[-2000:]
  assert not out.exists() or not os.listdir(str(out))
  result = dry_run("--max_seq_length=3")
  assert result.returncode != 0 and "--max_seq_length=3 is too small" in result.stderr


@pytest.mark.slow
def test_wheel_in_a_fresh_venv(tmp_path):
  """pip wheel, a new venv, the wheel installed: every command's --help, then data creation and
  training from the installed sample data and config, with no checkout on sys.path.

  The venv sees the system's site-packages (TensorFlow is not downloaded again); the test checks
  that `bert_mlm` is imported from the venv's wheel, not from a checkout.
  """
  wheels = tmp_path / "wheels"
  result = subprocess.run([sys.executable, "-m", "pip", "wheel", helpers.REPO, "--no-deps",
                           "--no-build-isolation", "-w", str(wheels)],
                          capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  (wheel,) = [str(wheels / name) for name in os.listdir(str(wheels))]
  venv = tmp_path / "venv"
  subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
  python = str(venv / "bin" / "python")
  env = _env_without_checkout()
  # What `pip install` would change: only bert-mlm itself (the installed TensorFlow, numpy,
  # absl-py ... are inside the ranges and stay).
  result = subprocess.run([python, "-m", "pip", "install", "--dry-run", "--quiet", "--report",
                           str(tmp_path / "report.json"), wheel], capture_output=True, text=True,
                          env=env, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  with open(str(tmp_path / "report.json")) as f:
    to_install = [item["metadata"]["name"] for item in json.load(f)["install"]]
  assert to_install == ["bert-mlm"], to_install
  result = subprocess.run([python, "-m", "pip", "install", "--no-deps", "--force-reinstall",
                           "--quiet", wheel], capture_output=True, text=True, env=env, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]

  work = tmp_path / "work"  # the current directory: no checkout here
  work.mkdir()

  def run(argv):
    return subprocess.run(argv, capture_output=True, text=True, cwd=str(work), env=env,
                          timeout=600)

  where = run([python, "-c", "import bert_mlm, bert_mlm.sample_data as s, bert_mlm.configs as c, "
                             "sys; print(bert_mlm.__file__); print(s.__path__[0]); "
                             "print(c.__path__[0]); print(helpers.REPO in ''.join(sys.path))"
                             .replace("helpers.REPO", repr(helpers.REPO))])
  assert where.returncode == 0, where.stderr[-2000:]
  package_file, sample_dir, config_dir, checkout_on_path = where.stdout.split()
  assert package_file.startswith(str(venv)), package_file
  assert checkout_on_path == "False"

  for name in COMMANDS:
    command = str(venv / "bin" / ("bert-mlm-" + name.replace("_", "-")))
    result = run([command, "--help"])
    assert result.returncode == _HELP_STATUS, (name, result.stderr[-2000:])
    assert "--" in result.stdout and "flags:" in result.stdout, (name, result.stdout)
    assert "bert-mlm-" + name.replace("_", "-") in result.stdout, name
  result = run([python, "-m", "bert_mlm.cli.run_pretraining", "--help"])
  assert result.returncode == _HELP_STATUS and "--num_train_steps" in result.stdout

  data = str(work / "sample.tfrecord")
  result = run([str(venv / "bin" / "bert-mlm-create-pretraining-data"),
                "--input_file=" + os.path.join(sample_dir, "corpus.txt"),
                "--vocab_file=" + os.path.join(sample_dir, "vocab.txt"), "--output_file=" + data,
                "--max_seq_length=64", "--max_predictions_per_seq=10", "--dupe_factor=1"])
  assert result.returncode == 0, result.stderr[-3000:]
  assert "Wrote" in result.stderr and os.path.getsize(data) > 0
  result = run([str(venv / "bin" / "bert-mlm-run-pretraining"),
                "--bert_config_file=" + os.path.join(config_dir, "sample_tiny.json"),
                "--vocab_file=" + os.path.join(sample_dir, "vocab.txt"), "--input_file=" + data,
                "--output_dir=" + str(work / "out"), "--do_train", "--do_eval",
                "--train_batch_size=8", "--eval_batch_size=8", "--max_seq_length=64",
                "--max_predictions_per_seq=10", "--num_train_steps=4", "--num_warmup_steps=1",
                "--iterations_per_loop=2", "--max_eval_steps=2", "--seed=1"])
  assert result.returncode == 0, result.stderr[-3000:]
  assert "step 4/4 (100.0%)" in result.stderr
  assert os.path.exists(str(work / "out" / "eval_results.txt"))
