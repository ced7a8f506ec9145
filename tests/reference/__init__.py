"""Test-only access to the original BERT (`bert-tensorflow==1.0.4` from PyPI) on TensorFlow 2."""
