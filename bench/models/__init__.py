"""Architectures and their layouts, training recipes, the shared training loop, optimisers and batched training."""
