"""The maths, on arrays: semantic scale, marginal-effect curves, imbalance, the linear probe.

numpy and scipy only; nothing here reads files or imports torch. Import the sub-modules
(``semaudit.stats.scale``, …); this package imports nothing, so ``stats.defaults`` stays free.
"""
