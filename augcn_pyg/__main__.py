"""``python -m augcn_pyg``: the ``augcn-pyg`` command."""
from augcn_pyg.cli import main

if __name__ == "__main__":  # pragma: no cover
    main()
