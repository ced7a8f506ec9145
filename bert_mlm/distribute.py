"""The tf.distribute strategy for a run: TPU from the original's tpu flags, else GPUs, else CPU."""

from absl import logging
import tensorflow as tf


def get_strategy(use_tpu=False, tpu_name=None, tpu_zone=None, gcp_project=None, master=None,
                 num_tpu_cores=8):
  """TPUStrategy when `use_tpu`; MirroredStrategy on several GPUs; else one GPU or the CPU.

  Raises:
    ValueError: `use_tpu` without a reachable TPU, or a TPU whose core count is not
      `num_tpu_cores`.
  """
  if use_tpu:
    tpu = tpu_name or master
    if not tpu:
      raise ValueError("--use_tpu needs --tpu_name (or --master) to find the TPU.")
    try:
      resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
          tpu, zone=tpu_zone, project=gcp_project)
      tf.config.experimental_connect_to_cluster(resolver)
      tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as e:
      raise ValueError("--use_tpu: cannot reach TPU %r: %s" % (tpu, e)) from None
    strategy = tf.distribute.TPUStrategy(resolver)
    if strategy.num_replicas_in_sync != num_tpu_cores:
      raise ValueError("--num_tpu_cores=%d but the TPU %r has %d cores."
                       % (num_tpu_cores, tpu, strategy.num_replicas_in_sync))
  else:
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
      strategy = tf.distribute.MirroredStrategy()
    else:
      strategy = tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0")
  logging.info("Distribution: %s with %d replica(s).", type(strategy).__name__,
               strategy.num_replicas_in_sync)
  return strategy
