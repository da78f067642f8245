"""Notebook 01: what it shows beyond the dataset itself (the statistics: tenderlib.data.datastats)."""
from __future__ import annotations

from dataclasses import dataclass

from tenderlib.checks import check_choice
from tenderlib.synthetic.program import ACTIONS


@dataclass(frozen=True)
class ExplorationConfig:
    """What notebook 01 shows beyond the dataset itself."""

    data_frac: float = 1.0          # nested share of the training split that is described, in (0, 1]
    num_examples: int = 1           # animated examples per source
    example_action: str = "wave"    # body action of the worked example (tenderlib.synthetic.program.ACTIONS)
    example_side: str = "left"      # its side: left / right / both, or none for actions without a side

    def __post_init__(self):
        if not (0 < self.data_frac <= 1):
            raise ValueError(f"data_frac must be in (0, 1], got {self.data_frac!r}")
        if self.num_examples < 0:
            raise ValueError(f"num_examples must be >= 0, got {self.num_examples!r}")
        check_choice("example_action", self.example_action, tuple(ACTIONS))
        spec = ACTIONS[self.example_action]
        check_choice("example_side", self.example_side, spec.sides if spec.sided else ("none",))
