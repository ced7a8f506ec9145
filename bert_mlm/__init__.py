"""bert-mlm: Google's original BERT pretraining, ported to TensorFlow 2 and Keras 3.

Modules (one stage of the pipeline each):
  tokenization      the original FullTokenizer (BasicTokenizer + WordPiece), cached.
  file_io           tf.gfile semantics (glob order, '\\n' lines, atomic outputs) without TF.
  tfrecord          tf.train.Example serialization and TFRecord framing.
  pretraining_data  documents -> NSP pairs -> masked LM instances -> TFRecords.
  parallel_data     per-file mode: each input file alone, on worker processes, within memory.
  shard_text        text -> shards at document boundaries, streaming.
  beam_pipeline     per-file mode as an Apache Beam pipeline (the only module importing beam).

Importing the package does not import TensorFlow; the data pipeline runs without it.
"""

__version__ = "0.1.0"
