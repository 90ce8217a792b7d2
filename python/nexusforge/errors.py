"""Exceptions raised by NexusForge, grouped by what the caller can do about them.

    NexusForgeError                 base of everything we raise on purpose
    ├── DataError                   a file or message could not be read; fix or skip the input
    │   └── MalformedMessageError   one venue message is malformed (also raised by the Rust core)
    ├── BookError                   an order book was misused (wrong arrays, bad tick size)
    ├── ConfigError                 a configuration value is invalid; the message names the key
    ├── VenueError                  a venue refused or failed a request (nexus/venues/*/errors.py)
    ├── ExpressionError             a strategy expression is malformed (types, arity, limits, JSON)
    ├── ExportError                 a report could not be exported (PNG: no Chromium, it failed)
    ├── ForgeError                  a Forge run cannot go on; the message says what to fix
    │   ├── EvaluationError         a distributed evaluation failed (a worker died or raised)
    │   └── ArtifactError           a challenger file is malformed or fails its hash check
    └── NexusError                  the live engine's books cannot take this action; stop and look
        ├── LedgerError             a fill does not belong to this ledger (symbol, model)
        ├── StateTransitionError    a model state change the state machine does not allow
        └── JournalError            the journal file is unusable (schema version, corruption)

Exceptions raised inside the Rust core (`CoreInputError`, `CoreMalformedError`) are `ValueError`
subclasses; the Python faces catch them at the boundary and re-raise one of the classes above.
"""

from nexusforge._core import CoreInputError, CoreMalformedError


class NexusForgeError(Exception):
    """Base class of every error NexusForge raises on purpose."""


class DataError(NexusForgeError):
    """Input data (a file, a recording, a message) cannot be used as it is."""


class MalformedMessageError(DataError):
    """One venue message is malformed: bad JSON, wrong types, or missing fields."""


class BookError(NexusForgeError):
    """An order book was given input it cannot apply."""


class ConfigError(NexusForgeError):
    """A configuration value is invalid."""


class ForgeError(NexusForgeError):
    """A Forge research run cannot go on."""


class EvaluationError(ForgeError):
    """A distributed evaluation failed: a worker died or raised; no result was kept."""


class ArtifactError(ForgeError):
    """A challenger file is malformed, fails its hash check or cannot be written."""


class VenueError(NexusForgeError):
    """A venue refused or failed a request; subclasses say whether a retry is safe."""


class ExpressionError(NexusForgeError):
    """A strategy expression is malformed: unknown primitive, wrong arity or type, too big."""


class ExportError(NexusForgeError):
    """A report could not be exported (e.g. to PNG: no Chromium, or it failed to render)."""


class NexusError(NexusForgeError):
    """The live engine's books (ledgers, model states, journal) cannot take this action."""


class LedgerError(NexusError):
    """A fill was routed to a ledger it does not belong to (wrong symbol or model)."""


class StateTransitionError(NexusError):
    """A model state change that the state machine does not allow."""


class JournalError(NexusError):
    """The journal file is unusable: unknown schema version, foreign file, corruption."""


__all__ = [
    "ArtifactError",
    "BookError",
    "ConfigError",
    "CoreInputError",
    "CoreMalformedError",
    "DataError",
    "EvaluationError",
    "ExportError",
    "ExpressionError",
    "ForgeError",
    "JournalError",
    "LedgerError",
    "MalformedMessageError",
    "NexusError",
    "NexusForgeError",
    "StateTransitionError",
    "VenueError",
]
