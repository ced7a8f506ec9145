"""The pretraining run: input pipeline, the step, evaluation, checkpoints, the loop, preemption,
distribution, dry runs."""
