"""Step learning-rate schedules written as comma-separated milestones in a Config field (repdistiller's
`adjust_learning_rate`: lr = base * rate ** (number of milestones the epoch is past))."""
from __future__ import annotations

from unlearnbench.core.errors import ConfigError


def milestones(text: str, field: str = "lr_decay_epochs") -> list[int]:
    """The whole, positive epochs of a comma-separated milestones field; raises ConfigError naming `field`."""
    try:
        epochs = [int(e) for e in text.split(",") if e.strip()]
    except ValueError:
        raise ConfigError(f"{field} must be comma-separated whole epochs, got {text!r}") from None
    if any(e < 1 for e in epochs):
        raise ConfigError(f"{field} must be positive, got {text!r}")
    return epochs


def step_decayed(base: float, epoch: int, marks: list[int], rate: float) -> float:
    """`base` times `rate` once for every milestone that `epoch` is past (the caller's epoch numbering)."""
    return base * rate ** sum(epoch > m for m in marks)
