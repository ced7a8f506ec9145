"""Other formats at the edge: Hugging Face safetensors directories, SavedModels in the TF Hub
convention, tensorflow-text preprocessing."""
