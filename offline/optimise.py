"""Optimise any tensors against a loss: the pixels of an image (Gatys) or the parameters of strokes.

    x = start.clone().requires_grad_(True)
    optimise([x], lambda: loss_of(x), "lbfgs", steps=100, lr=1.0)

`steps` counts loss evaluations for both optimisers, so runs with either
spend the same budget. Adam projects the parameters back into their valid
range after every step (`project`); L-BFGS is left unconstrained, because
projecting between its iterations corrupts its curvature history, and the
caller clamps after the run.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

OPTIMIZERS = ("lbfgs", "adam")


def optimise(params: Sequence[torch.Tensor], objective: Callable[[], torch.Tensor], optimizer: str,
             steps: int, lr: float, project: Callable[[], None] | None = None) -> None:
    """Minimise `objective()` over `params` (leaf tensors with requires_grad) in place."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose from {', '.join(OPTIMIZERS)}")
    params = list(params)
    if optimizer == "lbfgs":
        # Zero tolerances: always spend the step budget, so runs are comparable.
        opt = torch.optim.LBFGS(params, lr=lr, max_iter=steps, max_eval=steps, history_size=50,
                                tolerance_grad=0.0, tolerance_change=0.0)

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = objective()
            loss.backward()
            return loss

        opt.step(closure)
        return
    opt = torch.optim.Adam(params, lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        objective().backward()
        opt.step()
        if project is not None:
            with torch.no_grad():
                project()
