"""The benchmark scripts live outside the package, in ``benchmarks/``: make them importable."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # model_fixtures
