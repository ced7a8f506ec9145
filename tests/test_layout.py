"""The package's layout holds: layers import downwards only, no circles, the data side imports no
TensorFlow, the original's modules keep its public names, and the docs name modules that exist."""

import ast
import os
import re
import subprocess
import sys

import pytest

from tests import helpers

PACKAGE = os.path.join(helpers.REPO, "bert_mlm")

# Lowest first. A module may import modules of its own layer or of a lower one, never of a
# higher one. A module is placed by the longest prefix of its dotted name listed here.
LAYERS = (
    ("base", ("bert_mlm", "bert_mlm.errors", "bert_mlm.schema", "bert_mlm.progress",
              "bert_mlm.allocator")),
    ("storage", ("bert_mlm.storage",)),
    ("original", ("bert_mlm.tokenization", "bert_mlm.config", "bert_mlm.kernels",
                  "bert_mlm.modeling", "bert_mlm.optimization",
                  "bert_mlm.create_pretraining_data", "bert_mlm.unmasked_examples",
                  "bert_mlm.chinese_words")),
    ("model", ("bert_mlm.model",)),
    ("data, training, interop", ("bert_mlm.data", "bert_mlm.training", "bert_mlm.interop")),
    ("cli", ("bert_mlm.cli",)),
)

# The data side: text -> TFRecords without TensorFlow (it costs seconds and hundreds of MB per
# worker process).
TENSORFLOW_FREE = ("bert_mlm.errors", "bert_mlm.schema", "bert_mlm.storage.file_io",
                   "bert_mlm.storage.tfrecord", "bert_mlm.tokenization",
                   "bert_mlm.create_pretraining_data", "bert_mlm.unmasked_examples",
                   "bert_mlm.data.sharding", "bert_mlm.data.per_file", "bert_mlm.chinese_words",
                   "bert_mlm.progress", "bert_mlm.allocator", "bert_mlm.storage.atomic")


def _modules():
  """{dotted name: path} of every module in the package."""
  modules = {}
  for directory, _, files in os.walk(PACKAGE):
    for name in files:
      if name.endswith(".py"):
        path = os.path.join(directory, name)
        dotted = os.path.relpath(path, helpers.REPO)[:-3].replace(os.sep, ".")
        modules[dotted[:-len(".__init__")] if dotted.endswith(".__init__") else dotted] = path
  return modules


def _imports(path, known):
  """The package's modules that the module at `path` imports, anywhere in it."""
  found = set()
  for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
    if isinstance(node, ast.Import):
      names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
      names = [node.module] + ["%s.%s" % (node.module, alias.name) for alias in node.names]
    else:
      continue
    found.update(name for name in names if name in known)
  return found


def _layer(module):
  best = None
  for index, (_, prefixes) in enumerate(LAYERS):
    for prefix in prefixes:
      if module == prefix or module.startswith(prefix + "."):
        if best is None or len(prefix) > len(best[1]):
          best = (index, prefix)
  return best[0] if best else None


def test_every_module_has_a_layer():
  assert [m for m in _modules() if _layer(m) is None] == []


def test_imports_go_down_the_layers_only():
  modules = _modules()
  upward = []
  for module, path in sorted(modules.items()):
    for imported in sorted(_imports(path, modules)):
      if _layer(imported) > _layer(module):
        upward.append("%s (%s) imports %s (%s)" % (module, LAYERS[_layer(module)][0], imported,
                                                   LAYERS[_layer(imported)][0]))
  assert upward == []


def test_no_import_circle():
  modules = _modules()
  graph = {m: {i for i in _imports(p, modules) if i != m and not m.startswith(i + ".")}
           for m, p in modules.items()}
  # A package's __init__ is not an edge to its modules' contents.
  state, cycles = {}, []

  def visit(node, stack):
    state[node] = "open"
    for nxt in sorted(graph[node]):
      if state.get(nxt) == "open":
        cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
      elif nxt not in state:
        visit(nxt, stack + [nxt])
    state[node] = "done"

  for module in sorted(graph):
    if module not in state:
      visit(module, [module])
  assert cycles == []


def test_the_data_side_imports_no_tensorflow():
  script = ("import sys\n"
            "import %s\n"
            "loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('tensorflow', 'keras', 'tensorflow_text'))\n"
            "assert not loaded, loaded[:5]\n" % ", ".join(TENSORFLOW_FREE))
  result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=helpers.REPO, env=dict(os.environ, PYTHONPATH=helpers.REPO))
  assert result.returncode == 0, result.stderr[-2000:]


def test_the_original_modules_keep_its_public_names():
  script = ("import bert_mlm.tokenization as t, bert_mlm.modeling as m, "
            "bert_mlm.optimization as o\n"
            "for module, names in ((t, 'FullTokenizer BasicTokenizer WordpieceTokenizer "
            "convert_to_unicode printable_text load_vocab convert_tokens_to_ids "
            "convert_ids_to_tokens whitespace_tokenize validate_case_matches_checkpoint'), "
            "(m, 'BertConfig BertModel gelu get_activation create_initializer'), "
            "(o, 'AdamWeightDecayOptimizer')):\n"
            "  missing = [n for n in names.split() if not hasattr(module, n)]\n"
            "  assert not missing, (module.__name__, missing)\n")
  result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=helpers.REPO, env=dict(os.environ, PYTHONPATH=helpers.REPO))
  assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize("doc", ["README.md", "benchmarks/README.md", "bert_mlm/__init__.py",
                                 "recipes/README.md", "configs/README.md",
                                 "sample_data/README.md"])
def test_docs_name_modules_that_exist(doc):
  path = os.path.join(helpers.REPO, doc)
  if not os.path.exists(path):
    pytest.skip("no %s" % doc)
  text = open(path, encoding="utf-8").read()
  missing = sorted({p for p in re.findall(r"\bbert_mlm/[\w/]+\.py\b", text)
                    if not os.path.exists(os.path.join(helpers.REPO, p))})
  dotted = sorted({d for d in re.findall(r"\bbert_mlm(?:\.\w+)+", text)
                   if not _resolves(d)})
  assert (missing, dotted) == ([], [])


def _resolves(dotted):
  """Whether `bert_mlm.a.b[.name]` names a module or package (or a name inside one)."""
  parts = dotted.split(".")
  for end in (len(parts), len(parts) - 1):
    base = os.path.join(helpers.REPO, *parts[:end])
    if os.path.exists(base + ".py") or os.path.exists(os.path.join(base, "__init__.py")):
      return True
  return False


def test_no_tracker_issue_numbers_in_user_docs():
  for doc in ("README.md", "recipes/README.md", "configs/README.md", "sample_data/README.md"):
    path = os.path.join(helpers.REPO, doc)
    if os.path.exists(path):
      text = open(path, encoding="utf-8").read()
      # Upstream threads (google-research/bert issue 780) are public and fine to cite.
      ours = re.findall(r"(?<!bert )(?<!upstream )\b[Ii]ssues? #?\d+\b", text)
      assert not ours, (doc, ours)


def test_the_module_map_names_every_module():
  import bert_mlm  # pylint: disable=g-import-not-at-top
  words = set(re.findall(r"\w+", bert_mlm.__doc__))
  unnamed = sorted(m for m in _modules()
                   if m != "bert_mlm" and m.rsplit(".", 1)[-1] not in words)
  assert unnamed == []
