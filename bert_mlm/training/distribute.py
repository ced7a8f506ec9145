"""The tf.distribute strategy for a run, from --distribution_strategy and the original's tpu flags.

  one_device             the CPU, or the first GPU
  mirrored               every local GPU (the CPU if none), one replica each
  multi_worker_mirrored  several machines (TF_CONFIG); only the chief writes checkpoints,
                         summaries and eval results, every worker resumes from them
  tpu                    a TPU found from --tpu_name / --master (--use_tpu picks it too)
The default ("") is tpu with --use_tpu, else mirrored on several GPUs, else one_device.

Under multi_worker_mirrored no wait is unbounded (TensorFlow's defaults leave some so): each
worker's coordination-service agent sends heartbeats, and a worker silent for
HEARTBEAT_TIMEOUT_SECONDS (killed, its machine gone, frozen) makes every collective of the
others fail; a worker that closes its connections (a killed process on a live machine) is noticed
at once. A collective that has waited COLLECTIVE_TIMEOUT_SECONDS for a worker that still sends
heartbeats (stuck in I/O) fails too; it is long because a worker legitimately waits in the next
step's collective while the chief writes a checkpoint. Workers wait REGISTER_TIMEOUT_SECONDS for
each other at start, and SHUTDOWN_TIMEOUT_SECONDS for the others at exit. See `cluster` for how
these failures become one line and an exit status.
"""

import json
import os

from absl import logging
import tensorflow as tf

from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
from tensorflow.python.distribute import multi_worker_util
from tensorflow.python.eager import context

from bert_mlm.errors import UsageError

STRATEGIES = ("one_device", "mirrored", "multi_worker_mirrored", "tpu")

HEARTBEAT_TIMEOUT_SECONDS = 10
COLLECTIVE_TIMEOUT_SECONDS = 30 * 60
REGISTER_TIMEOUT_SECONDS = 15 * 60
SHUTDOWN_TIMEOUT_SECONDS = 10


def strategy_name(distribution_strategy="", use_tpu=False, tpu_name=None, master=None):
  """The strategy the flags name ("" for the default), checked without touching any device.

  Raises:
    UsageError: an unknown name, --use_tpu with another strategy, or a TPU without a name.
  """
  name = distribution_strategy or ("tpu" if use_tpu else "")
  if name and name not in STRATEGIES:
    raise UsageError("--distribution_strategy=%s is not one of %s."
                     % (name, ", ".join(STRATEGIES)))
  if use_tpu and name != "tpu":
    raise UsageError("--use_tpu conflicts with --distribution_strategy=%s." % name)
  if name == "tpu" and not (tpu_name or master):
    raise UsageError("A TPU (--use_tpu or --distribution_strategy=tpu) needs --tpu_name (or "
                     "--master) to find it.")
  return name


def get_strategy(distribution_strategy="", use_tpu=False, tpu_name=None, tpu_zone=None,
                 gcp_project=None, master=None, num_tpu_cores=8):
  """The strategy named (or chosen as described in the module docstring).

  Raises:
    UsageError: an unknown name, a name that does not fit the flags or hardware (tpu without a
      reachable TPU, --use_tpu with another strategy), or a TPU whose core count is not
      `num_tpu_cores`.
  """
  name = strategy_name(distribution_strategy, use_tpu, tpu_name, master)
  if name == "tpu":
    tpu = tpu_name or master
    try:
      resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
          tpu, zone=tpu_zone, project=gcp_project)
      tf.config.experimental_connect_to_cluster(resolver)
      tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as e:
      raise UsageError("Cannot reach TPU %r: %s" % (tpu, e)) from None
    strategy = tf.distribute.TPUStrategy(resolver)
    if strategy.num_replicas_in_sync != num_tpu_cores:
      raise UsageError("--num_tpu_cores=%d but the TPU %r has %d cores."
                       % (num_tpu_cores, tpu, strategy.num_replicas_in_sync))
  elif name == "multi_worker_mirrored":
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    _configure_coordination_service(resolver.cluster_spec())
    strategy = tf.distribute.MultiWorkerMirroredStrategy(
        cluster_resolver=resolver,
        communication_options=tf.distribute.experimental.CommunicationOptions(
            timeout_seconds=COLLECTIVE_TIMEOUT_SECONDS))
  else:
    gpus = tf.config.list_logical_devices("GPU")
    if name == "mirrored" or (not name and len(gpus) > 1):
      strategy = tf.distribute.MirroredStrategy()
    else:
      strategy = tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0")
  logging.info("Distribution: %s with %d replica(s).", type(strategy).__name__,
               strategy.num_replicas_in_sync)
  return strategy


def _configure_coordination_service(cluster_spec):
  """What MultiWorkerMirroredStrategy would configure itself, with the timeouts stated (see the
  module docstring); it keeps a coordination service configured before it is made."""
  if not cluster_spec.jobs or context.context().coordination_service is not None:
    return  # one worker, or configured already (a second strategy in the same process)
  context.context().configure_coordination_service(
      service_type="standalone",
      service_leader=multi_worker_util.coordination_leader(cluster_spec),
      enable_health_check=True,
      cluster_register_timeout_in_ms=REGISTER_TIMEOUT_SECONDS * 1000,
      heartbeat_timeout_in_ms=HEARTBEAT_TIMEOUT_SECONDS * 1000,
      shutdown_barrier_timeout_in_ms=SHUTDOWN_TIMEOUT_SECONDS * 1000,
      coordinated_jobs=[
          coordination_config_pb2.CoordinatedJob(name=job,
                                                 num_tasks=cluster_spec.num_tasks(job))
          for job in ("chief", "worker") if job in cluster_spec.jobs])


def num_workers(strategy):
  """The worker processes `strategy` trains on (the chief and the workers of TF_CONFIG)."""
  if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
    return 1
  spec = strategy.cluster_resolver.cluster_spec()
  return max(1, sum(spec.num_tasks(job) for job in ("chief", "worker") if job in spec.jobs))


def is_chief(strategy):
  """Whether this process writes checkpoints, summaries and eval results (one per cluster)."""
  resolver = getattr(strategy, "cluster_resolver", None)
  if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or resolver is None:
    return True
  task_type, task_id = resolver.task_type, resolver.task_id
  if task_type in (None, "chief"):
    return True
  cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
  return task_type == "worker" and task_id == 0 and "chief" not in cluster


def reduce_sum(strategy, values):
  """{name: per-replica value} -> {name: sum over replicas}; one reduce per entry, since not
  every strategy's reduce takes a nested structure (MultiWorkerMirrored does not)."""
  return {name: strategy.reduce("sum", value, axis=None) for name, value in values.items()}
