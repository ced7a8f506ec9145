"""What the tests and the benchmarks compare against, outside both.

The original BERT (`bert-tensorflow==1.0.4` from PyPI) run on TensorFlow 2: `original` (its data
creation and tokenizer), `original_model` and `tf1_shim` (its model and optimizer in a TF1
graph), `minilm_checkpoint` (a real released checkpoint). And the texts to compare on, which any
machine rebuilds without network: `english_corpus` (English prose from docstrings), `tricky_text`
(random strings of the characters that exercise every branch of the tokenizer) and
multilingual.txt.
"""

import os

MULTILINGUAL_TEXT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "multilingual.txt")
