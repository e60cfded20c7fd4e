"""Fitted relation-model parameters (written by ``benchmarks/tune_synthau.py``; do not edit by hand)."""
TUNED: dict = {}
