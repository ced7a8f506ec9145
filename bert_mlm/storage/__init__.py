"""Storage: files (local and gs://, atomic writes), TFRecord framing, TF1 checkpoints by name."""
