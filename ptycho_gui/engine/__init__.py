"""The inference engine: grouping, normalization, batched forward passes, stitching, statistics."""
