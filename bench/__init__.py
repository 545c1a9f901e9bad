"""Benchmarks (``make bench``): each ``*_bench.py`` runs as a script and prints JSON."""
