"""The pretraining model: the heads' Keras layers, the losses and metrics, BERT + heads as one
Keras model, mixed precision."""
