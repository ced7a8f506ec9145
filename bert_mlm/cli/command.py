"""What every command line shares: flags made from an options dataclass, options made from the
flags, and running a command's main under absl.

One way from flags to options: an options dataclass (`DataOptions`, `PretrainingOptions`,
`VocabOptions`) holds each default once; `define_flags` makes a flag of the same name, type and
default for each field given a help text, and `options_from_flags` builds the dataclass back
from those flags. Values are validated once, by the dataclass's `validate`, where the library's
own callers get the same checks.

Imports absl only (the data side's commands import no TensorFlow).
"""

import dataclasses
import sys
import typing

from absl import app
from absl import flags

FLAGS = flags.FLAGS

# Flags defined here belong to the command module that calls `define_flags` (absl attributes a
# flag to the module that called DEFINE_*, and `--help` lists the main module's).
flags.disclaim_key_flags()

_DEFINE_BY_TYPE = {
    bool: flags.DEFINE_bool,
    int: flags.DEFINE_integer,
    float: flags.DEFINE_float,
    str: flags.DEFINE_string,
}


def define_flags(options_class, helps):
  """Defines `--<field>` for each field of `options_class` named in `helps` ({name: help}).

  The flag's type is the field's annotation (bool, int, float or str) and its default the
  field's default.
  """
  types = typing.get_type_hints(options_class)
  fields = {field.name: field for field in dataclasses.fields(options_class)}
  for name, help_text in helps.items():
    field = fields[name]  # a KeyError here is a typo in a command module
    if field.default is dataclasses.MISSING:
      raise TypeError("%s.%s has no default to give its flag." % (options_class.__name__, name))
    _DEFINE_BY_TYPE[types[name]](name, field.default, help_text)


def options_from_flags(options_class, **values):
  """An `options_class` whose fields are the flags of the same names (parsed), except those in
  `values` (fields without a flag, or built from several flags)."""
  for field in dataclasses.fields(options_class):
    if field.name not in values and field.name in FLAGS:
      values[field.name] = FLAGS[field.name].value
  return options_class(**values)


def run(main, module_name, required=(), flags_parser=None):
  """Parses the flags and calls `main(argv)`, as `app.run`, for command `module_name`.

  Works the same whether the command runs as `python -m bert_mlm.cli.<name>`, as a console
  script or through the repository's top-level script: absl's `--help` prints the docstring of
  `__main__` and the flags of the module named by sys.argv[0], so both are pointed at the
  command's module.
  """
  for name in required:
    flags.mark_flag_as_required(name)
  module = sys.modules[module_name]
  main_module = sys.modules["__main__"]
  if main_module is not module:
    main_module.__doc__ = module.__doc__
    for flag in FLAGS.get_key_flags_for_module(module_name):
      FLAGS.register_key_flag_for_module(sys.argv[0], flag)
  if flags_parser is None:
    app.run(main)
  else:
    app.run(main, flags_parser=flags_parser)
