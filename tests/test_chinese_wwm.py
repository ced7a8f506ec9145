"""Chinese whole-word masking (--chinese_whole_word_mask): the original's whole-word masking with
segmenter words, against the original (master's create_masked_lm_predictions) fed the Chinese
BERT-wwm way, and the rules on its output."""

import math
import os
import random
import subprocess
import sys

import jieba
import pytest

from bert_mlm import chinese_words
from bert_mlm import create_pretraining_data
from bert_mlm import schema
from bert_mlm import tokenization
from bert_mlm.data import per_file
from tests import helpers
from reference import original
from reference import original_wwm

_ZH_CORPUS = os.path.join(helpers.SAMPLE_DATA, "zh_corpus.txt")
_ZH_VOCAB = os.path.join(helpers.SAMPLE_DATA, "zh_vocab.txt")
_SMALL = dict(max_seq_length=64, max_predictions_per_seq=10)


def _ours(input_file, output_file, vocab_file, **flags):
  options = create_pretraining_data.DataOptions(**flags)
  return create_pretraining_data.create_pretraining_data(input_file, output_file, vocab_file,
                                                         options)


def _examples(path):
  examples = original.read_examples(path)
  assert examples, path
  return examples


def _spaced_line(line):
  """`line` with a space between two consecutive jieba.cut words wherever both sides are CJK."""
  out = []
  for word in jieba.cut(line):
    if out and chinese_words.is_cjk(out[-1][-1]) and chinese_words.is_cjk(word[0]):
      out.append(" ")
    out.append(word)
  return "".join(out)


def _write_spaced(path, output):
  # Lines end at "\n" only, as data creation reads them (a lone "\r" stays inside its line).
  with open(path, encoding="utf-8", newline="") as f:
    lines = f.read().split("\n")
  with open(output, "w", encoding="utf-8", newline="") as f:
    f.write("\n".join(_spaced_line(line) for line in lines))
  return output


@pytest.fixture(scope="module")
def small_english(english_corpus, tmp_path_factory):
  """About 40 KB of the English corpus (whole documents): no CJK character."""
  with open(english_corpus, encoding="utf-8") as f:
    text = f.read()
  cut = text.index("\n\n", 40000)
  path = str(tmp_path_factory.mktemp("en") / "small_english.txt")
  with open(path, "w", encoding="utf-8") as f:
    f.write(text[:cut] + "\n")
  assert not any(chinese_words.is_cjk(c) for c in text[:cut])
  return path


# --- Word boundaries --------------------------------------------------------------------------


def test_cjk_pattern_is_the_tokenizers_cjk():
  # The module's regular expression and FullTokenizer's own test agree on every code point.
  pattern = chinese_words._CJK_AFTER_CJK  # pylint: disable=protected-access
  for cp in range(0x30000):
    char = chr(cp)
    if 0xD800 <= cp <= 0xDFFF:
      continue
    assert bool(pattern.search("\u4e00" + char)) == chinese_words.is_cjk(char), hex(cp)


@pytest.mark.parametrize("segmenter", chinese_words.SEGMENTERS)
@pytest.mark.parametrize("corpus", ["zh", "multilingual"])
def test_marked_ids_are_the_plain_tokens(segmenter, corpus, multilingual_corpus, minilm_vocab):
  path = _ZH_CORPUS if corpus == "zh" else multilingual_corpus
  tokenizer = tokenization.FullTokenizer(minilm_vocab)
  marker = chinese_words.WordMarkingTokenizer(tokenizer, segmenter)
  size = len(tokenizer.vocab)
  marked = 0
  with open(path, encoding="utf-8") as f:
    for line in f:
      line = line.strip()
      ids = marker.tokenize_to_ids(line)
      assert chinese_words.unmark(ids, size) == tokenizer.tokenize_to_ids(line), line
      expected = original_wwm.continuing_positions(line, segmenter, chinese_words.is_cjk)
      marked += sum(chinese_words.continuation_flags(ids, size))
      assert sum(chinese_words.continuation_flags(ids, size)) == len(expected), line
  assert marked > (1000 if corpus == "zh" else 10)


def test_segmenting_blocks_alone_gives_jiebas_words():
  # Segmenting jieba's blocks on their own (only those with two adjacent CJK characters) gives
  # the positions of jieba.cut on the whole line, on every line of the sample and on blocks
  # that mix CJK with Latin letters and digits.
  continuations = chinese_words._JiebaContinuations()  # pylint: disable=protected-access
  with open(_ZH_CORPUS, encoding="utf-8") as f:
    lines = [line.strip() for line in f] + ["T恤衫和A股市场", "3.5公斤，iPhone手机", "中 文",
                                            "卡拉OK厅里的B超室", "中\u200b文 and 中\t文"]
  for line in lines:
    assert sorted(original_wwm.continuing_positions(line, "jieba", chinese_words.is_cjk)) == (
        continuations(line)), line


# --- Against the original ---------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("flags", [
    dict(do_whole_word_mask=True),
    dict(chinese_whole_word_mask="jieba"),
    dict(chinese_whole_word_mask="whitespace", random_seed=7),
], ids=["wwm", "jieba", "whitespace"])
def test_text_without_cjk_equals_original_whole_word_mask(flags, small_english, minilm_vocab,
                                                          tmp_path):
  ours, theirs = str(tmp_path / "ours"), str(tmp_path / "theirs")
  flags = dict(flags, dupe_factor=2)
  _ours(small_english, ours, minilm_vocab, **flags)
  original_wwm.run_original_whole_word_mask(
      small_english, theirs, minilm_vocab,
      **{k: v for k, v in flags.items() if k not in ("do_whole_word_mask",
                                                     "chinese_whole_word_mask")})
  assert _examples(ours) == _examples(theirs)


@pytest.mark.parametrize("segmenter", chinese_words.SEGMENTERS)
@pytest.mark.parametrize("corpus,vocab,flags", [
    ("zh", "zh", dict(dupe_factor=3)),
    ("zh", "minilm", dict(_SMALL, dupe_factor=3, random_seed=1)),
    ("multilingual", "minilm", dict(dupe_factor=5, max_seq_length=32, max_predictions_per_seq=5,
                                    masked_lm_prob=0.2, short_seq_prob=0.3)),
])
def test_chinese_equals_original_with_continuing_characters_as_pieces(
    segmenter, corpus, vocab, flags, multilingual_corpus, minilm_vocab, tmp_path):
  path = _ZH_CORPUS if corpus == "zh" else multilingual_corpus
  if segmenter == "whitespace":  # the same text, segmented by jieba into spaced words
    path = _write_spaced(path, str(tmp_path / "spaced.txt"))
  vocab_file = _ZH_VOCAB if vocab == "zh" else minilm_vocab
  ours, theirs = str(tmp_path / "ours"), str(tmp_path / "theirs")
  _ours(path, ours, vocab_file, chinese_whole_word_mask=segmenter, **flags)
  original_wwm.run_original_whole_word_mask(path, theirs, vocab_file, segmenter=segmenter,
                                            **flags)
  assert _examples(ours) == _examples(theirs)


@pytest.mark.parametrize("corpus", ["zh", "multilingual"])
def test_jieba_on_raw_text_equals_whitespace_on_jieba_spaced_text(corpus, multilingual_corpus,
                                                                   minilm_vocab, tmp_path):
  path = _ZH_CORPUS if corpus == "zh" else multilingual_corpus
  spaced = _write_spaced(path, str(tmp_path / "spaced.txt"))
  with open(path, encoding="utf-8") as f, open(spaced, encoding="utf-8") as g:
    assert f.read() != g.read()
  a, b = str(tmp_path / "jieba"), str(tmp_path / "whitespace")
  _ours(path, a, minilm_vocab, chinese_whole_word_mask="jieba", dupe_factor=3, **_SMALL)
  _ours(spaced, b, minilm_vocab, chinese_whole_word_mask="whitespace", dupe_factor=3, **_SMALL)
  examples = _examples(a)
  assert examples == _examples(b) and len(examples) > (100 if corpus == "zh" else 20)


# --- The rules on Chinese text ----------------------------------------------------------------


class _RecordingMasker(create_pretraining_data.MaskedLmMasker):
  """Keeps each instance's marked ids beside the instance (for checking the words)."""

  def __init__(self, *args, **kwargs):
    super().__init__(*args, **kwargs)
    self.made = []

  def create_instance(self, tokens_a, tokens_b, is_random_next, rng):
    marked = [self.cls_id] + tokens_a + [self.sep_id] + tokens_b + [self.sep_id]
    instance = super().create_instance(tokens_a, tokens_b, is_random_next, rng)
    self.made.append((marked, instance))
    return instance


def _words(marked, masker):
  """The candidate words of an instance's marked ids, as the original groups them."""
  words = []
  for index, token_id in enumerate(marked):
    if token_id in (masker.cls_id, masker.sep_id):
      continue
    if words and masker.is_continuation[token_id]:
      words[-1].append(index)
    else:
      words.append([index])
  return words


def _instances(path, vocab_file, segmenter, seed, dupe_factor, **flags):
  options = create_pretraining_data.DataOptions(chinese_whole_word_mask=segmenter,
                                                dupe_factor=dupe_factor, **flags)
  tokenizer = create_pretraining_data.load_tokenizer(vocab_file, options)
  documents = create_pretraining_data.read_documents(
      [path], chinese_words.WordMarkingTokenizer(tokenizer, segmenter))
  masker = _RecordingMasker(tokenizer.vocab, options.masked_lm_prob,
                            options.max_predictions_per_seq, True, marked_words=True)
  rng = random.Random(seed)
  for _ in range(dupe_factor):
    for index in range(len(documents)):
      create_pretraining_data.create_instances_from_document(
          documents, index, options.max_seq_length, options.short_seq_prob, masker, rng)
  return tokenizer, masker


def test_words_masked_whole_plain_labels_count_rule_and_80_10_10():
  tokenizer, masker = _instances(_ZH_CORPUS, _ZH_VOCAB, "jieba", seed=5, dupe_factor=20)
  inv = tokenizer.inv_vocab
  size = len(tokenizer.vocab)
  kinds = {"mask": 0, "same": 0, "random": 0}
  whole_multi_char = 0
  for marked, instance in masker.made:
    plain = chinese_words.unmark(marked, size)
    positions = set(instance.masked_lm_positions)
    for word in _words(marked, masker):
      assert not positions & set(word) or positions >= set(word), (word, positions)
      whole_multi_char += len(word) > 1 and positions >= set(word)
    # Plain ids everywhere: labels are the characters, nothing is marked or a ## piece.
    assert instance.masked_lm_ids == [plain[p] for p in instance.masked_lm_positions]
    assert all(i < size for i in instance.input_ids + instance.masked_lm_ids)
    # A character's label is its own token, never a "##" one (the sample's only pieces are
    # those of the Latin word "Python").
    assert not any(inv[i].startswith("##") and not inv[i][2:].isascii()
                   for i in instance.masked_lm_ids)
    assert any(len(inv[i]) == 1 and chinese_words.is_cjk(inv[i]) for i in instance.masked_lm_ids)
    # The original's count: num_to_predict, or fewer when the words left don't fit.
    rule = min(masker.max_predictions_per_seq, max(1, int(round(len(marked) *
                                                               masker.masked_lm_prob))))
    left = rule - len(positions)
    assert left >= 0 and len(positions) >= 1
    if left:
      assert all(len(w) > left for w in _words(marked, masker) if not positions & set(w))
    for p, label in zip(instance.masked_lm_positions, instance.masked_lm_ids):
      new = instance.input_ids[p]
      kinds["mask" if new == masker.mask_id else "same" if new == label else "random"] += 1
  assert whole_multi_char > 1000
  total = sum(kinds.values())
  assert total > 10000
  for kind, p in (("mask", 0.8 + 0.1 / size), ("same", 0.1 + 0.1 / size),
                  ("random", 0.1 - 0.2 / size)):
    tolerance = 5 * math.sqrt(p * (1 - p) / total)
    assert abs(kinds[kind] / total - p) < tolerance, (kind, kinds[kind] / total, p)


def test_mixed_chinese_and_english_keeps_pieces(minilm_vocab, tmp_path):
  path = tmp_path / "mixed.txt"
  path.write_text("我们用 tokenization 和 Python 来研究中国的 unbelievably 好吃的东西。\n"
                  "他说 transformers 模型在中文 benchmark 上表现很好。\n\n"
                  "北京大学的 researchers 发表了 embeddings 的论文。\n"
                  "这个 preprocessing 步骤非常重要。\n", encoding="utf-8")
  tokenizer, masker = _instances(str(path), minilm_vocab, "jieba", seed=1, dupe_factor=200,
                                 masked_lm_prob=0.3)
  inv = tokenizer.inv_vocab
  size = len(tokenizer.vocab)
  piece_words = cjk_words = 0
  for marked, instance in masker.made:
    positions = set(instance.masked_lm_positions)
    for word in _words(marked, masker):
      tokens = [inv[marked[i] % size] for i in word]
      assert not positions & set(word) or positions >= set(word)
      if any(t.startswith("##") for t in tokens):
        # An English word's pieces form its own word, never with a CJK character.
        assert not any(chinese_words.is_cjk(t[0]) for t in tokens if len(t) == 1), tokens
        piece_words += positions >= set(word)
      elif len(word) > 1:
        cjk_words += positions >= set(word)
  assert piece_words > 50 and cjk_words > 50


def test_deterministic_for_a_seed(tmp_path):
  a, b, c = (str(tmp_path / name) for name in "abc")
  for path, seed in ((a, 3), (b, 3), (c, 4)):
    _ours(_ZH_CORPUS, path, _ZH_VOCAB, chinese_whole_word_mask="jieba", dupe_factor=2,
          random_seed=seed)
  with open(a, "rb") as f, open(b, "rb") as g, open(c, "rb") as h:
    first = f.read()
    assert first == g.read() and first != h.read()


# --- Per-file mode, Beam, the command line ----------------------------------------------------



@pytest.fixture
def zh_parts(tmp_path):
  inputs = tmp_path / "in"
  inputs.mkdir()
  return helpers.split_corpus(_ZH_CORPUS, str(inputs), 3)


def _assert_per_file_outputs(parts, output_dir, single_dir, flags):
  for path in parts:
    single = os.path.join(single_dir, os.path.basename(path) + ".single")
    _ours(path, single, _ZH_VOCAB, **flags)
    with open(single, "rb") as f, open(os.path.join(output_dir, os.path.basename(path) +
                                                    ".tfrecord"), "rb") as g:
      assert f.read() == g.read(), path


@pytest.mark.slow
@pytest.mark.parametrize("dynamic", [False, True], ids=["masked", "unmasked"])
def test_per_file_mode_equals_single_process_per_file(zh_parts, tmp_path, dynamic):
  flags = dict(chinese_whole_word_mask="jieba", dupe_factor=2, random_seed=9,
               dynamic_masking=dynamic, **_SMALL)
  summary = per_file.create_per_file(
      ",".join(zh_parts), str(tmp_path / "out"), _ZH_VOCAB,
      create_pretraining_data.DataOptions(**flags), num_workers=2)
  assert summary.written == 3 and not summary.failed
  _assert_per_file_outputs(zh_parts, str(tmp_path / "out"), str(tmp_path), flags)


@pytest.mark.slow
def test_beam_equals_single_process_per_file(zh_parts, tmp_path):
  env = dict(os.environ, PYTHONPATH=os.pathsep.join(
      [helpers.REPO] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
  result = subprocess.run(
      [sys.executable, os.path.join(helpers.REPO, "create_pretraining_data_beam.py"),
       "--input_file=" + ",".join(zh_parts), "--output_dir=" + str(tmp_path / "beam"),
       "--vocab_file=" + _ZH_VOCAB, "--chinese_whole_word_mask=jieba", "--dupe_factor=2",
       "--random_seed=9", "--max_seq_length=64", "--max_predictions_per_seq=10",
       "--runner=DirectRunner", "--direct_num_workers=2",
       "--direct_running_mode=multi_processing"],
      capture_output=True, text=True, timeout=300, env=env)
  assert result.returncode == 0, result.stderr[-3000:]
  _assert_per_file_outputs(zh_parts, str(tmp_path / "beam"), str(tmp_path),
                           dict(chinese_whole_word_mask="jieba", dupe_factor=2, random_seed=9,
                                **_SMALL))


def _cli(*args, prelude=""):
  script = ("import runpy, sys\n%s"
            "sys.argv = ['create_pretraining_data.py'] + %r\n"
            "runpy.run_path(%r, run_name='__main__')\n"
            % (prelude, list(args), os.path.join(helpers.REPO, "create_pretraining_data.py")))
  return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                        timeout=120, env=dict(os.environ, PYTHONPATH=helpers.REPO))


def test_command_line_flag(tmp_path):
  out = str(tmp_path / "cli")
  result = _cli("--input_file=" + _ZH_CORPUS, "--output_file=" + out,
                "--vocab_file=" + _ZH_VOCAB, "--chinese_whole_word_mask=whitespace",
                "--dupe_factor=2", "--random_seed=4")
  assert result.returncode == 0, result.stderr[-2000:]
  _ours(_ZH_CORPUS, str(tmp_path / "lib"), _ZH_VOCAB, chinese_whole_word_mask="whitespace",
        dupe_factor=2, random_seed=4)
  assert _examples(out) == _examples(str(tmp_path / "lib"))
  bad = _cli("--input_file=" + _ZH_CORPUS, "--output_file=" + out, "--vocab_file=" + _ZH_VOCAB,
             "--chinese_whole_word_mask=pkuseg")
  assert bad.returncode != 0 and "chinese_whole_word_mask" in bad.stderr


def test_jieba_missing_is_one_clear_line(tmp_path):
  # A process in which `import jieba` fails, as where it is not installed.
  result = _cli("--input_file=" + _ZH_CORPUS, "--output_file=" + str(tmp_path / "o"),
                "--vocab_file=" + _ZH_VOCAB, "--chinese_whole_word_mask=jieba",
                prelude="sys.modules['jieba'] = None\n")
  assert result.returncode == 1 and "Traceback" not in result.stderr
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith("create_pretraining_data.py: error: --chinese_whole_word_mask=jieba "
                         "needs jieba"), last
  assert "pip install" in last and not os.path.exists(str(tmp_path / "o"))


# --- Dynamic masking --------------------------------------------------------------------------


@pytest.mark.slow
def test_dynamic_masking_masks_the_records_words(tmp_path):
  import numpy as np  # pylint: disable=g-import-not-at-top
  from bert_mlm.training import dynamic_masking  # pylint: disable=g-import-not-at-top
  from bert_mlm.training import input_pipeline  # pylint: disable=g-import-not-at-top
  from bert_mlm.training import record_layout  # pylint: disable=g-import-not-at-top
  records = str(tmp_path / "unmasked")
  _ours(_ZH_CORPUS, records, _ZH_VOCAB, chinese_whole_word_mask="jieba", dynamic_masking=True,
        dupe_factor=1, **_SMALL)
  examples = _examples(records)
  assert sorted(examples[0]) == sorted(schema.UNMASKED_FEATURE_NAMES + (schema.CONTINUES_WORD,))
  continues = np.array([e[schema.CONTINUES_WORD][1] for e in examples])
  ids = np.array([e["input_ids"][1] for e in examples])
  mask = np.array([e["input_mask"][1] for e in examples])
  assert continues.sum() > 1000 and not continues[mask == 0].any()
  vocab = tokenization.load_vocab(_ZH_VOCAB)
  masking = dynamic_masking.DynamicMasking(vocab, 0.15, do_whole_word_mask=True)
  record_layout.check_records([records], record_layout.RecordLayout(64, 10, masked=False),
                              masking)
  batch = len(examples) // 4
  dataset = input_pipeline.make_dataset([records], 64, 10, batch, is_training=True,
                                        shuffle=False, seed=2, masking=masking)
  is_piece = np.array([t.startswith("##") for t in vocab])
  whole = 0
  for step, out in enumerate(dataset.take(40)):
    assert schema.CONTINUES_WORD not in out
    rows = (np.arange(batch) + step * batch) % len(examples)
    row_ids, row_continues = ids[rows], continues[rows]
    positions = out["masked_lm_positions"].numpy()
    weights = out["masked_lm_weights"].numpy()
    for r in range(batch):
      chosen = set(positions[r][weights[r] > 0])
      # The original's grouping over the candidates, with the records' words.
      word, words = None, []
      for p in range(64):
        if not mask[rows[r], p] or row_ids[r, p] in (vocab["[CLS]"], vocab["[SEP]"]):
          continue
        if words and (is_piece[row_ids[r, p]] or row_continues[r, p]):
          words[-1].append(p)
        else:
          words.append([p])
      for word in words:
        assert not chosen & set(word) or chosen >= set(word), (word, chosen)
        whole += len(word) > 1 and chosen >= set(word)
  assert whole > 200

  # Records written before the feature existed (or without Chinese words) still read, alone
  # and beside the new ones.
  old = str(tmp_path / "old")
  _ours(_ZH_CORPUS, old, _ZH_VOCAB, dynamic_masking=True, dupe_factor=1, **_SMALL)
  assert schema.CONTINUES_WORD not in _examples(old)[0]
  record_layout.check_records([old, records], record_layout.RecordLayout(64, 10, masked=False),
                              masking)
  for files in ([old], [old, records]):
    dataset = input_pipeline.make_dataset(files, 64, 10, 32, is_training=True, seed=2,
                                          masking=masking)
    for out in dataset.take(3):
      assert sorted(out) == sorted(schema.FEATURE_NAMES)
      assert out["masked_lm_weights"].numpy().sum() > 32
