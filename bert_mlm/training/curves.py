"""A run's curves from its TensorBoard event files, as one PNG (plot_training.py).

  output_dir/events.out.tfevents.*       training scalars, one per step: total_loss,
                                         masked_lm_loss, next_sentence_loss, learning_rate
  output_dir/eval/events.out.tfevents.*  evaluation scalars at their global step: loss,
                                         masked_lm_loss, masked_lm_accuracy, next_sentence_loss,
                                         next_sentence_accuracy

The event files are read with TensorBoard's own reader (EventAccumulator, as its scalars
dashboard does) and drawn with matplotlib on a figure of its own (no global backend). Both are
optional dependencies (`pip install 'bert-mlm[plot]'`); TensorFlow is not imported.
"""

import importlib
import os

from bert_mlm.errors import UsageError
from bert_mlm.storage import atomic
from bert_mlm.storage import file_io

# (panel title, training scalar, eval scalar plotted beside it, eval accuracy named in its label)
PANELS = (
    ("total loss", "total_loss", "loss", None),
    ("masked LM loss", "masked_lm_loss", "masked_lm_loss", "masked_lm_accuracy"),
    ("next sentence loss", "next_sentence_loss", "next_sentence_loss", "next_sentence_accuracy"),
    ("learning rate", "learning_rate", None, None),
)


def _import(module, what):
  try:
    return importlib.import_module(module)
  except ImportError as e:
    raise UsageError("plot_training.py needs %s (%s): pip install 'bert-mlm[plot]'."
                     % (what, e)) from None


def read_scalars(directory):
  """{tag: [(step, value)]} of the scalar summaries in `directory`'s event files ({} if none)."""
  reader = _import("tensorboard.backend.event_processing.plugin_event_accumulator",
                   "tensorboard")
  tensor_util = _import("tensorboard.util.tensor_util", "tensorboard")
  accumulator = reader.EventAccumulator(directory)
  accumulator.Reload()
  return {tag: [(event.step, tensor_util.make_ndarray(event.tensor_proto).item())
                for event in accumulator.Tensors(tag)]
          for tag in accumulator.PluginTagToContent("scalars")}


def _has_events(directory):
  return file_io.isdir(directory) and any(
      name.startswith("events.out.tfevents") for name in file_io.listdir(directory))


def plot_training(output_dir, output_file=None, title=None):
  """Draws the training curves of `output_dir` (and its eval points) into one PNG.

  Args:
    output_dir: run_pretraining's --output_dir.
    output_file: the PNG to write (default: <output_dir>/training_curves.png); written to a
      temporary name and renamed when complete.
    title: the figure's title (default: output_dir).
  Returns:
    The PNG's path.
  Raises:
    UsageError: no event files, or matplotlib / tensorboard missing.
  """
  if not _has_events(output_dir):
    raise UsageError("--output_dir=%s holds no TensorBoard event files (events.out.tfevents.*): "
                     "give run_pretraining.py's --output_dir of a run that trained."
                     % output_dir)
  train = read_scalars(output_dir)
  if not any(tag in train for _, tag, _, _ in PANELS):
    raise UsageError("--output_dir=%s: its event files hold none of %s." % (
        output_dir, ", ".join(tag for _, tag, _, _ in PANELS)))
  eval_dir = os.path.join(output_dir, "eval")
  evaluation = read_scalars(eval_dir) if _has_events(eval_dir) else {}
  figure_module = _import("matplotlib.figure", "matplotlib")
  agg = _import("matplotlib.backends.backend_agg", "matplotlib")

  figure = figure_module.Figure(figsize=(10, 7), dpi=80)
  agg.FigureCanvasAgg(figure)
  axes = figure.subplots(2, 2).ravel()
  for ax, (name, tag, eval_tag, accuracy_tag) in zip(axes, PANELS):
    ax.set_title(name)
    ax.set_xlabel("step")
    ax.grid(True, alpha=0.3)
    if tag in train:
      steps, values = zip(*train[tag])
      ax.plot(steps, values, linewidth=0.8, label="training")
    if eval_tag in evaluation:
      steps, values = zip(*evaluation[eval_tag])
      label = "eval"
      if accuracy_tag in evaluation:
        label += " (accuracy %.3f)" % evaluation[accuracy_tag][-1][1]
      ax.plot(steps, values, "o", color="tab:red", label=label)
    if ax.lines:
      ax.legend(loc="upper right")
  figure.suptitle(title or output_dir)
  figure.tight_layout()
  path = output_file or os.path.join(output_dir, "training_curves.png")
  with atomic.AtomicOutputs([path]) as (output,):
    figure.savefig(output, format="png")
  return path
