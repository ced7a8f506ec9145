"""Two mirrored logical CPUs train exactly as one device at the same global batch.

Run by tests/test_training.py in its own process (the two logical devices must be configured
before TensorFlow starts). Arguments: repo, config JSON, records, output dir, init checkpoint.
Prints MIRRORED_OK when every check passes.
"""

import json
import sys

import numpy as np
import tensorflow as tf

tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
sys.path.insert(0, sys.argv[1])

from bert_mlm import modeling  # pylint: disable=wrong-import-position
from bert_mlm.training import loop  # pylint: disable=wrong-import-position
from bert_mlm.config import BertConfig  # pylint: disable=wrong-import-position
from tests import helpers  # pylint: disable=wrong-import-position


def main(config_json, records, output_dir, init_checkpoint):
  out = {}
  strategies = (("one", tf.distribute.OneDeviceStrategy("/cpu:0")),
                ("two", tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])))
  for name, strategy in strategies:
    options = loop.PretrainingOptions(
        bert_config=BertConfig.from_dict(json.loads(config_json)), input_files=[records],
        output_dir=output_dir + "/" + name, init_checkpoint=init_checkpoint, max_seq_length=24,
        max_predictions_per_seq=4, do_train=True, train_batch_size=4, learning_rate=1e-2,
        num_train_steps=5, num_warmup_steps=2, save_checkpoints_steps=5, iterations_per_loop=5,
        train_shuffle=False)
    assert strategy.num_replicas_in_sync == (1 if name == "one" else 2)
    history, _ = loop.run_pretraining(options, strategy)
    out[name] = (helpers.history_table(history),
                 helpers.read_checkpoint(output_dir + "/" + name + "/model.ckpt-5"))
  np.testing.assert_allclose(out["one"][0], out["two"][0], rtol=1e-5, atol=1e-7)
  one, two = out["one"][1], out["two"][1]
  helpers.assert_states_close(two, one)
  assert one["global_step"] == two["global_step"] == 5
  # Dropout: the two replicas draw different masks (each folds its replica id into the seed).
  mirrored = strategies[1][1]
  with mirrored.scope():
    dropout = modeling.Dropout(0.5)
  masks = mirrored.experimental_local_results(tf.function(
      lambda: mirrored.run(lambda: dropout(tf.ones([64]), training=True)))())
  assert not np.array_equal(masks[0].numpy(), masks[1].numpy())
  print("MIRRORED_OK", out["one"][0][:, 0].tolist())


if __name__ == "__main__":
  main(*sys.argv[2:6])
