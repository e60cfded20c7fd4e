"""augcn-pyg: facial action unit detection with relation modelling on PyTorch Geometric."""
from augcn_pyg._version import __version__
from augcn_pyg.core.aus import AU_NAMES, PROTOCOLS, Protocol, get_protocol

__all__ = ["__version__", "AU_NAMES", "PROTOCOLS", "Protocol", "get_protocol"]
