"""bert-mlm: Google's original BERT pretraining, ported to TensorFlow 2 and Keras 3.

The map, one idea per module:

  Shared (no TensorFlow)
    errors            UsageError, DataError, WriteError, DivergedError, Preempted: one line
                      each, by the scripts, and an exit status per kind; TensorFlow's error text
                      cleaned
    schema            the pretraining example: feature names, dtypes, lengths
    config            BertConfig: the original's hyperparameters, bert_config.json

  Data side (no TensorFlow for local files)      text -> TFRecords
    file_io           tf.gfile semantics (glob order, '\\n' lines)
    atomic            outputs under a temporary name, renamed when complete (files, text,
                      checkpoints, directories)
    tokenization      the original's tokenization module (FullTokenizer, exact, cached)
    tfrecord          tf.train.Example wire format and TFRecord framing
    pretraining_data  documents -> NSP pairs -> masked LM instances -> TFRecords
    per_file          per-file mode: each input file alone, on worker processes, within memory
    shard_text        text -> shards at document boundaries, streaming
    beam_pipeline     per-file mode as an Apache Beam pipeline (the only module importing beam)
    unmasked_examples --dynamic_masking: the NSP pairs without masks
    vocab_learning    create_vocab: a WordPiece vocabulary (tensorflow-text's learner)

  Model side                                     features -> losses
    fused             GELU, LayerNorm, softmax cross entropy as compiled kernels
    modeling          BertModel: the encoder, variables named as the original's
    heads             gather_indexes, get_masked_lm_output, get_next_sentence_output
    losses            the losses and metrics, defined once
    pretraining_model BertPretrainingModel: BERT + heads, under a precision policy
    mixed_precision   bf16/fp16 policies, fp16's dynamic loss scale

  Training side                                  TFRecords -> checkpoints, eval_results.txt
    input_pipeline    TFRecords -> batches, as the original's input_fn
    record_layout     whether a record is a pretraining example of the run's layout, and why not
    input_faults      input errors mid-run -> file, byte offset, reason; skipping corrupt records
    optimization      AdamWeightDecayOptimizer, LAMB, the warmup/decay schedule, clipping
    distribute        the tf.distribute strategy from the flags
    train_step        one optimizer step on every replica
    evaluation        the original's metric_fn and eval_results.txt
    checkpoints       TF1-format checkpoints by name (storage)
    checkpoint_manager  a run's model.ckpt-<step>, the state file, rotation, resume
    dynamic_masking   masks each batch in the input pipeline (tensorflow-text)
    training          PretrainingOptions and the loop: run_pretraining
    preemption        SIGTERM -> stop after the step in flight, checkpoint, exit 75
    dry_run           --dry_run: a command line's flags and files checked, nothing run

  Tools                                          checkpoints and models in other formats
    huggingface       TF1 checkpoints <-> Hugging Face safetensors directories
    text_preprocessing  FullTokenizer's ids with tensorflow-text ops, BERT input packing
    export            encoder and preprocessing SavedModels (TF Hub convention)

  Commands (cli/)                                 flags -> one call into the modules above
    cli/<name>        one module per command line: its flags, then one call; installed as
                      bert-mlm-<name> and runnable as python -m bert_mlm.cli.<name>
    cli/command       flags made from an options dataclass (each default once), options from them
    progress          done/total, percent, rate, ETA for the log lines of long jobs
    training/curves   plot_training: a run's TensorBoard scalars as one PNG

  The scripts at the repository's top (create_pretraining_data.py, run_pretraining.py, ...)
  are thin wrappers of bert_mlm.cli, for the original's users.

Importing the package does not import TensorFlow.
"""

__version__ = "0.1.0"
