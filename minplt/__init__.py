"""minplt: the Parallel Loop Transformer from scratch in NumPy."""
