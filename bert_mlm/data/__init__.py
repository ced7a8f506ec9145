"""Data creation at scale: text shards, per-file mode on worker processes, the Beam pipeline, and
the WordPiece vocabulary learner. No TensorFlow for local files."""
