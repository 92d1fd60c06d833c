"""Entry point of papermill's engine ``clusterkrise`` (``papermill --engine clusterkrise``; see
:mod:`clusterkrise.pmengine`).

papermill loads every registered engine whenever it is imported, so this module must import even where another
``clusterkrise`` shadows the installed one (a different checkout's ``lib/`` first on PYTHONPATH, a test project's
stand-in package): there the engine is papermill's own, which gives the same notebook, only slower. It lives
outside the package for that reason.
"""

try:
    from clusterkrise.pmengine import ClusterkriseEngine
except ImportError:
    from papermill.engines import NBClientEngine as ClusterkriseEngine

__all__ = ["ClusterkriseEngine"]
