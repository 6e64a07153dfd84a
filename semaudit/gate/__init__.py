"""The CI gate: registered rules, their thresholds, evaluation and JSON / JUnit output.

The public names are those of :mod:`semaudit.gate.evaluate`, which re-exports its parts.
"""

from semaudit.gate import evaluate as _evaluate
from semaudit.gate.evaluate import *  # noqa: F403

__all__ = _evaluate.__all__
