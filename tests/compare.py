"""Comparing trained states (weights and adam slots) across runs, to round-off."""

import numpy as np

_SLOTS = ("adam_m", "adam_v")


def assert_states_close(ours, expected, rtol=1e-5):
  """{name: array} maps with the same names; each group (weights, adam_m, adam_v) to `rtol` of
  the group's largest magnitude.

  Per group rather than per variable: a few gradients are zero in exact arithmetic (attention key
  biases: softmax ignores a per-query constant), so both sides hold round-off there, which Adam's
  normalisation turns into ~1e-6 updates of either sign.
  """
  names = set(expected) - {"global_step"}
  assert set(ours) - {"global_step"} == names
  for slot in _SLOTS + (None,):
    group = [n for n in names if (n.endswith(slot) if slot else not n.endswith(_SLOTS))]
    if not group:
      continue
    scale = max(np.max(np.abs(expected[n])) for n in group)
    for name in group:
      error = np.max(np.abs(np.asarray(ours[name]) - expected[name])) / scale
      assert error <= rtol, "%s differs by %.3g of its group's scale %.3g" % (name, error, scale)
