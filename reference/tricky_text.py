"""Random strings of the characters that exercise every branch of the original's tokenizer."""

import random

# Characters that exercise every branch of the original's cleaning and splitting.
_TRICKY = (
    "abcXYZ019 .,;:!?'\"$^~`|\\/@#%&*()[]{}<>-_=+"  # ASCII, including symbols that are not P*
    "\t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u1680\u2000\u2009\u2028\u2029\u202f\u3000"  # whitespace kinds
    "\x00\x01\x7f\u200b\u200d\u00ad\ufeff\ufffd\ue000\U000f0000\u0378"  # control, format, PUA
    "éñüÅçøß\u0301\u0308\u0327İıŉǅﬁ"  # accents, combining marks, case oddities
    "中文字漢㐀𠀀\U0002A700\uf900\u3001\u3002「」"  # CJK ideographs and CJK punctuation
    "한국어ひらがなカタカナＡＢＣ１２"  # Hangul, kana, fullwidth
    "αβγΩжЖ\u0905\u093f\u0627\u064e😀𝕏∑≤€£¥§¶•…–—‘’“”«»¿¡")


def random_texts(seed, count):
  """`count` random strings of _TRICKY characters, then words around the 200-character limit."""
  rng = random.Random(seed)
  texts = []
  for _ in range(count):
    length = rng.randint(0, 60)
    texts.append("".join(rng.choice(_TRICKY) for _ in range(length)))
  # Words at and around the 200-character limit, with and without accents.
  for n in (199, 200, 201, 250):
    texts.append("a" * n)
    texts.append("x " + "é" * n + " y")
  return texts
