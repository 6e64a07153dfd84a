"""``semaudit train``: long-tail fine-tuning with (dynamic) semantic-scale-balanced weights.

A side job: nothing in the core imports this package. ``train`` runs one method,
``compare_methods`` every method × seed on identical splits. torch is imported here.
"""

from semaudit.train.compare import compare_methods
from semaudit.train.config import TrainConfig, parse_method, parse_methods
from semaudit.train.protocol import load_inputs
from semaudit.train.run import RunResult, train_run

__all__ = [
    "RunResult",
    "TrainConfig",
    "compare_methods",
    "load_inputs",
    "parse_method",
    "parse_methods",
    "train_run",
]
