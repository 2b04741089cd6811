"""Benchmarks of the playground (run them with `python -m playground bench`)."""
