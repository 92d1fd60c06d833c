"""Chapter-level analysis: one module per analysis chapter (ch03 ... ch11) with one function per figure
or table of the study, on top of the shared :mod:`clusterkrise.report.context`."""

from .context import DEFAULTS, Context, ParameterError, Params, markdown_table, setup, setup_from

__all__ = ["DEFAULTS", "Context", "ParameterError", "Params", "markdown_table", "setup", "setup_from"]
