"""``none``: no class weights (the plain loss)."""

from semaudit.train.weightings.base import Weighting


class NoWeighting(Weighting):
    name = "none"


WEIGHTING = NoWeighting
