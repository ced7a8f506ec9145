"""bert-mlm: Google's original BERT pretraining, ported to TensorFlow 2 and Keras 3.

The module map, one line per module. Layers from the bottom up; a module imports only from its own
layer or those below it (tests/test_layout.py checks it), and the data side imports no TensorFlow.

  Base (no TensorFlow)
    errors                    error kinds, each one line and an exit status (README's table);
                              TensorFlow's error text cleaned
    schema                    the pretraining example: feature names, dtypes, lengths
    progress                  done/total, percent, rate, ETA and end time for long jobs' log lines
    allocator                 glibc malloc kept from returning the step's buffers to the kernel

  storage/                    bytes on disk or gs://
    file_io                   tf.gfile semantics without TensorFlow: glob order, '\n' lines
    atomic                    the one atomic write: files, text, a checkpoint, a directory
    tfrecord                  tf.train.Example wire format and TFRecord framing
    checkpoints               TF1-format checkpoints by name: read, load, save, strip slots

  The original's modules, with its public names
    tokenization              FullTokenizer, BasicTokenizer, WordpieceTokenizer, ... (exact, cached)
    config                    BertConfig: the original's hyperparameters, bert_config.json
    kernels                   GELU, LayerNorm, softmax cross entropy as compiled kernels
    modeling                  BertConfig, BertModel: variables named as the original's
    optimization              AdamWeightDecayOptimizer, LAMB, the warmup/decay schedule, clipping
    create_pretraining_data   documents -> NSP pairs -> masked LM instances -> TFRecords
    unmasked_examples         --dynamic_masking: the NSP pairs written without masks
    chinese_words             Chinese whole-word masking: word boundaries from jieba or spaces

  model/                      features -> per-example losses
    heads                     get_masked_lm_output, get_next_sentence_output, the Keras heads
    losses                    the step's losses and evaluation's metrics, computed once
    pretraining_model         BertPretrainingModel: BERT + heads, under a precision policy
    mixed_precision           bf16/fp16 policies, fp16's dynamic loss scale

  data/                       text -> TFRecords at scale (no TensorFlow for local files)
    sharding                  text -> shards at document boundaries, streaming
    per_file/                 per-file mode: each input file alone, on every core, within memory
      plan, jobs              what to make (resume, name clashes); one file's job and result
      memory_budget           each file's peak memory estimated, files admitted within the budget
      worker_pool             worker processes, a killed worker's file reported, not retried
      progress                files done, MB/s, peak memory, ETA
    beam_pipeline             per-file mode as an Apache Beam pipeline (the only beam import)
    vocab_learning            create_vocab: a WordPiece vocabulary (tensorflow-text's learner)

  training/                   TFRecords -> checkpoints, eval_results.txt
    record_layout             whether a record is an example of the run's layout, and why not
    input_pipeline            TFRecords -> batches, as the original's input_fn
    dynamic_masking           masks each batch in the input pipeline (tensorflow-text)
    input_faults              input errors mid-run -> file, byte offset, reason; skipping reader
    distribute                the tf.distribute strategy from the flags, its timeouts
    train_step                one optimizer step on every replica, iterations_per_loop per call
    evaluation                the original's metric_fn and eval_results.txt
    checkpoint_manager        a run's model.ckpt-<step>, the state file, rotation, resume
    preemption                SIGTERM -> stop after the step in flight, checkpoint, exit 75
    cluster                   multi-worker: the same run everywhere, stopping together, lost workers
    loop                      PretrainingOptions and run_pretraining: restore, step, log,
                              checkpoint, evaluate
    dry_run                   --dry_run: a command line's flags and files checked, nothing run
    curves                    plot_training: a run's TensorBoard scalars as one PNG

  interop/                    other formats at the edge
    huggingface/              TF1 checkpoints <-> transformers' safetensors directories
      names                   the TF1 <-> transformers name table, state dicts both ways
      configs                 config.json <-> BertConfig
      files                   tokenizer files, reading weights, writing a model directory
      to_transformers, from_transformers   the two directions
    savedmodel                encoder and preprocessing SavedModels (TF Hub's reusable API)
    text_preprocessing        FullTokenizer's ids with tensorflow-text ops, BERT input packing

  cli/                        one module per command line: its flags, then one call above
    command                   flags made from an options dataclass (each default once), options
                              from the flags, absl's run
    data_flags                the flags both data-creation commands share
    create_pretraining_data, create_pretraining_data_beam, run_pretraining, create_vocab,
    shard_text, convert_checkpoint, export_savedmodel, strip_checkpoint, plot_training
                              installed as bert-mlm-<name>; python -m bert_mlm.cli.<name>

  The scripts at the repository's top (create_pretraining_data.py, run_pretraining.py, ...) are
  thin wrappers of bert_mlm.cli, for the original's users.

Importing the package does not import TensorFlow.
"""

__version__ = "0.1.0"
