"""The CI gate: registered rules, their thresholds, evaluation and JSON / JUnit output.

The public names are those of :mod:`semaudit.gate.evaluate`, which re-exports its parts, and
the serialisers of :mod:`semaudit.gate.output`.
"""

from semaudit.gate import evaluate as _evaluate
from semaudit.gate.evaluate import *  # noqa: F403
from semaudit.gate.output import CHECK_SCHEMA_VERSION, result_to_dict, to_json, to_junit

__all__ = [*_evaluate.__all__, "CHECK_SCHEMA_VERSION", "result_to_dict", "to_json", "to_junit"]
