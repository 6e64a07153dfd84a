"""The maths, on arrays: semantic scale, marginal-effect curves, imbalance, the linear probe.

numpy and scipy only; nothing here reads files or imports torch.
"""

from semaudit.stats.pipeline import class_seed, curves, probe
from semaudit.stats.scale import ClassMoments, class_scale, semantic_scale

__all__ = ["ClassMoments", "class_scale", "class_seed", "curves", "probe", "semantic_scale"]
