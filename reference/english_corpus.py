"""Build a corpus of real English prose from the docstrings of Python source code.

Anyone can rebuild the corpus on any machine with Python and no network. The sources are read in
order: the Python standard library (`sysconfig.get_paths()["stdlib"]`, about 1.3 MB of prose on
Python 3.11), then the installed packages that this project pins (TensorFlow, Keras, NumPy: tens
of MB more), so the same Python and the same pinned versions give the same corpus. If the sources
give less than --megabytes, the script writes all of it and prints a warning. In each source it
reads the `.py` files in sorted path order and takes their module, class and function docstrings
via `ast`. It skips test directories (`test`, `tests`, `idle_test`),
`site-packages`, `idlelib`, `lib2to3` and files that are not valid UTF-8 or do not parse. Each
module with any usable text becomes one document, and documents are separated by a blank line.
Inside a document there is one sentence per line:

  * docstrings are split into paragraphs at blank lines, bullets and changes of indentation
    (unless the new line continues an unfinished sentence in lower case);
  * doctest lines (`>>>`, `...`) and their output are dropped, and so are RST literal blocks
    (the indented block after a line ending in `::`);
  * RST inline markup such as ``x`` and :func:`f` is reduced to its text;
  * whitespace is collapsed, and the text is split into sentences after `.`, `?` or `!` when
    whitespace and an upper-case letter follow;
  * a sentence is dropped when it is shorter than --min_chars (20), when it is mostly code or
    punctuation (fewer than 4 words, or under 70% of its words plain words), or when the
    same sentence was already written.

The output is deterministic for a given Python installation. A different Python version gives a
different corpus. Writing stops after the first whole document that reaches --megabytes
(1 MB = 1,000,000 bytes of UTF-8), and nothing is repeated to pad the corpus. If the standard
library gives less text, the script prints a warning and writes everything it found. The output
is written to `<output>.tmp` first and then moved into place with os.replace.

  python reference/english_corpus.py --output /tmp/corpus.txt --megabytes 8
"""

import argparse
import ast
import os
import re
import sys
import sysconfig
import warnings

_SKIP_DIRS = frozenset(["test", "tests", "idle_test", "site-packages", "idlelib", "lib2to3",
                        "__pycache__"])
_DEF_TYPES = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
_BODY_FIELDS = ("body", "orelse", "finalbody", "handlers", "cases")

_BULLET_RE = re.compile(r"^([-*+\u2022]\s|\d+[.)]\s|\([0-9a-zA-Z]\)\s)")
_RST_ROLE_RE = re.compile(r":[\w.:-]+:`([^`]*)`")
_RST_LITERAL_RE = re.compile(r"``([^`]*)``")
_SENTENCE_END_RE = re.compile(r"(?<=[.?!])\s+(?=[A-Z])")
# A plain word: letters with optional inner apostrophes or hyphens, optional surrounding quotes
# or brackets, and trailing sentence punctuation.
_PLAIN_WORD_RE = re.compile(r"^[\"'(\[]*[A-Za-z]+(?:['\u2019-][A-Za-z]+)*[\"')\].,;:!?]*$")


def default_sources():
  """The standard library, then the pinned packages' directories (located, not imported)."""
  import importlib.util  # pylint: disable=g-import-not-at-top
  roots = [sysconfig.get_paths()["stdlib"]]
  for package in ("tensorflow", "keras", "numpy"):
    spec = importlib.util.find_spec(package)
    if spec is not None and spec.submodule_search_locations:
      roots.append(spec.submodule_search_locations[0])
  return roots


def python_files(root):
  """Yields the paths of the .py files under `root`, sorted, minus the skipped dirs."""
  found = []
  for dirpath, dirnames, filenames in os.walk(root):
    dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
    rel = os.path.relpath(dirpath, root)
    parts = () if rel == "." else tuple(rel.split(os.sep))
    for name in filenames:
      if name.endswith(".py"):
        found.append(parts + (name,))
  for parts in sorted(found):
    yield os.path.join(root, *parts)


def _defs_docstrings(statements):
  """Docstrings of the classes and functions in `statements` (recursively), in source order."""
  for node in statements:
    if isinstance(node, _DEF_TYPES):
      doc = ast.get_docstring(node, clean=True)
      if doc:
        yield doc
    for field in _BODY_FIELDS:
      children = getattr(node, field, None)
      if isinstance(children, list):
        yield from _defs_docstrings(children)


def module_docstrings(source):
  """Module, class and function docstrings of one module's source, in source order."""
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    tree = ast.parse(source)
  doc = ast.get_docstring(tree, clean=True)
  if doc:
    yield doc
  yield from _defs_docstrings(tree.body)


def paragraphs(doc):
  """Splits a cleaned docstring into paragraphs of prose, without doctests and literal blocks."""
  current, current_indent = [], None
  in_doctest = False
  literal_indent = None
  for raw in doc.expandtabs().split("\n"):
    line = raw.strip()
    indent = len(raw) - len(raw.lstrip())
    if not line:
      if current:
        yield " ".join(current)
      current, current_indent = [], None
      in_doctest = False
      continue
    if literal_indent is not None:
      if indent > literal_indent:
        continue
      literal_indent = None
    if in_doctest or line.startswith(">>>") or line.startswith("..."):
      # A doctest runs until the next blank line: its `>>>`/`...` lines and their output.
      if current:
        yield " ".join(current)
      current, current_indent = [], None
      in_doctest = True
      continue
    hanging = (indent != current_indent and current and current[-1][-1] not in ".:?!" and
               line[0].islower())  # a wrapped sentence, not a new block
    if current and (_BULLET_RE.match(line) or (indent != current_indent and not hanging)):
      yield " ".join(current)
      current, current_indent = [], None
    if not current:
      current_indent = indent
    if line.endswith("::"):
      current.append(line[:-1])
      yield " ".join(current)
      current, current_indent = [], None
      literal_indent = indent
      continue
    current.append(line)
  if current:
    yield " ".join(current)


def is_prose(sentence, min_chars):
  if len(sentence) < min_chars:
    return False
  words = sentence.split()
  if len(words) < 4:
    return False
  plain = sum(1 for w in words if _PLAIN_WORD_RE.match(w))
  return plain >= 0.7 * len(words)


def sentences(doc, min_chars):
  for paragraph in paragraphs(doc):
    text = _RST_ROLE_RE.sub(r"\1", paragraph)
    text = _RST_LITERAL_RE.sub(r"\1", text)
    text = " ".join(text.split())
    for sentence in _SENTENCE_END_RE.split(text):
      sentence = sentence.strip()
      if is_prose(sentence, min_chars):
        yield sentence


def read_source(path):
  """The file's text, or None when it is not valid UTF-8."""
  with open(path, "rb") as f:
    data = f.read()
  try:
    text = data.decode("utf-8")
  except UnicodeDecodeError:
    return None
  return text[1:] if text.startswith("\ufeff") else text


def documents(roots, min_chars, stats):
  """Yields one list of sentences per module that has any; updates `stats` as it goes."""
  seen = set()
  for path in (path for root in roots for path in python_files(root)):
    stats["files"] += 1
    source = read_source(path)
    if source is None:
      stats["not_utf8"] += 1
      continue
    try:
      docs = list(module_docstrings(source))
    except (SyntaxError, ValueError):
      stats["unparsable"] += 1
      continue
    lines = []
    for doc in docs:
      for sentence in sentences(doc, min_chars):
        if sentence not in seen:
          seen.add(sentence)
          lines.append(sentence)
    if lines:
      yield lines


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--output", required=True, help="where to write the corpus")
  parser.add_argument("--megabytes", type=float, default=8.0,
                      help="stop after the document that reaches this many MB (10^6 bytes)")
  parser.add_argument("--sources", default=None,
                      help="comma-separated directories to read, in order (default: this "
                      "Python's standard library, then tensorflow, keras and numpy)")
  parser.add_argument("--min_chars", type=int, default=20, help="drop shorter sentences")
  args = parser.parse_args()

  roots = args.sources.split(",") if args.sources else default_sources()
  target = int(args.megabytes * 1e6)
  stats = {"files": 0, "not_utf8": 0, "unparsable": 0}
  written = n_docs = n_lines = 0
  tmp = args.output + ".tmp"
  try:
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
      for lines in documents(roots, args.min_chars, stats):
        if written >= target:
          break
        text = ("\n" if n_docs else "") + "\n".join(lines) + "\n"
        f.write(text)
        written += len(text.encode("utf-8"))
        n_docs += 1
        n_lines += len(lines)
    os.replace(tmp, args.output)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise

  print("wrote %s: %d bytes (%.2f MB), %d documents, %d lines" %
        (args.output, written, written / 1e6, n_docs, n_lines))
  print("read %d files under %s (%d not UTF-8, %d unparsable)" %
        (stats["files"], ", ".join(roots), stats["not_utf8"], stats["unparsable"]))
  if written < target:
    print("warning: %s gave only %.2f MB of prose, less than the %.2f MB asked for; "
          "wrote all of it" % (", ".join(roots), written / 1e6, args.megabytes), file=sys.stderr)


if __name__ == "__main__":
  main()
