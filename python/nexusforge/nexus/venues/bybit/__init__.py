"""Bybit v5 venue client: signing, REST, public and private streams, recovery (USDT linear).

Credentials come only from the environment or a 0600 keyfile (`keys.py`); endpoints from
`BybitConfig` (mainnet, testnet, or a custom host such as the local exchange).
"""

from nexusforge.nexus.venues.bybit.config import BybitConfig, PositionMode
from nexusforge.nexus.venues.bybit.errors import (
    BybitAmbiguousError,
    BybitAuthError,
    BybitBannedError,
    BybitError,
    BybitInsufficientBalanceError,
    BybitOrderNotFoundError,
    BybitRateLimitError,
    BybitRetryableError,
    BybitTimestampError,
    CredentialsError,
)
from nexusforge.nexus.venues.bybit.keys import Credentials, SecretFilter, load_credentials
from nexusforge.nexus.venues.bybit.models import (
    BybitExecution,
    BybitOrder,
    BybitOrderAck,
    BybitPosition,
    BybitWallet,
)
from nexusforge.nexus.venues.bybit.orders import OrderRequest
from nexusforge.nexus.venues.bybit.private_ws import (
    AccountDrift,
    BybitPrivateWs,
    ExecutionEvent,
    OrderEvent,
    PositionEvent,
    WalletEvent,
)
from nexusforge.nexus.venues.bybit.public_ws import (
    BookUpdate,
    BybitPublicWs,
    KlineUpdate,
    TickerUpdate,
    TradeBatch,
)
from nexusforge.nexus.venues.bybit.recovery import ExecIdSet, ExecMark, recover_executions
from nexusforge.nexus.venues.bybit.rest import BybitRestClient
from nexusforge.nexus.venues.bybit.trade_ws import BybitTradeWs
from nexusforge.nexus.venues.bybit.ws_connection import StreamStatus

__all__ = [
    "AccountDrift",
    "BookUpdate",
    "BybitAmbiguousError",
    "BybitAuthError",
    "BybitBannedError",
    "BybitConfig",
    "BybitError",
    "BybitExecution",
    "BybitInsufficientBalanceError",
    "BybitOrder",
    "BybitOrderAck",
    "BybitOrderNotFoundError",
    "BybitPosition",
    "BybitPrivateWs",
    "BybitPublicWs",
    "BybitRateLimitError",
    "BybitRestClient",
    "BybitRetryableError",
    "BybitTimestampError",
    "BybitTradeWs",
    "BybitWallet",
    "Credentials",
    "CredentialsError",
    "ExecIdSet",
    "ExecMark",
    "ExecutionEvent",
    "KlineUpdate",
    "OrderEvent",
    "OrderRequest",
    "PositionEvent",
    "PositionMode",
    "SecretFilter",
    "StreamStatus",
    "TickerUpdate",
    "TradeBatch",
    "WalletEvent",
    "load_credentials",
    "recover_executions",
]
