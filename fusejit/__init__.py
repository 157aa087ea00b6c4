"""fusejit: a tracing compiler for NumPy code."""
