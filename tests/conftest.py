"""Shared test settings. Sub-packages keep their own fixtures in their own conftest files."""
import os

import matplotlib

# Plots are written to files in tests; never open a window.
matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")
