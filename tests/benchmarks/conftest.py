"""The benchmark scripts form the ``benchmarks`` package at the repository root (``pythonpath`` in setup.cfg)."""
