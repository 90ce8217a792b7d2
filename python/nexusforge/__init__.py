"""NexusForge: find crypto trading strategies (Forge) and trade them on Bybit (Nexus).

The compiled core lives in `nexusforge._core`; users import from the Python modules, never from it.
"""

from nexusforge._core import core_version
from nexusforge.errors import BookError, DataError, NexusForgeError

__version__ = "0.1.0"

__all__ = ["BookError", "DataError", "NexusForgeError", "__version__", "core_version"]
