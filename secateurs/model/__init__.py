"""Model-level torch code that is not a pipeline stage: how a loaded module is made plain,
how its outputs are named, how torch.export programs are prepared, and the post-condition
that each pruned convolution really uses its zeroed weight."""
