"""Training the bundled default model: corpus building, losses and the training loop."""
