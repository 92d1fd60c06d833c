"""Deterministic generator of the synthetic respondent data (see :mod:`clusterkrise.synth.generate`)."""

from .generate import SEED, generate, write_outputs

__all__ = ["SEED", "generate", "write_outputs"]
