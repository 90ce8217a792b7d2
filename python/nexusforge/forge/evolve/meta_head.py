"""The MAML head's NumPy form, now in the strategy layer (`nexusforge.strategy.head`) so that
the live engine can use it without importing Forge; re-exported here for Forge's modules."""

from nexusforge.strategy.head import (
    CLIP,
    KIND,
    MAX_WIDTH,
    NAMES,
    SCHEMA,
    Array,
    MetaHead,
    Window,
    adapt_np,
    apply_np,
    forward,
    from_json,
    init_params,
    inputs,
    loss_grad,
    to_json,
)

__all__ = [
    "CLIP",
    "KIND",
    "MAX_WIDTH",
    "NAMES",
    "SCHEMA",
    "Array",
    "MetaHead",
    "Window",
    "adapt_np",
    "apply_np",
    "forward",
    "from_json",
    "init_params",
    "inputs",
    "loss_grad",
    "to_json",
]
