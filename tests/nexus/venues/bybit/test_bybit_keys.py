"""Credentials: only from the environment or a 0600 keyfile; the secret never shows or logs."""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
from pathlib import Path

import pytest
from bybit_peer import (
    API_SECRET,
    PeerConn,
    RestPeer,
    WsPeer,
    accept_auth,
    config,
    credentials,
    serve_rest,
    wait_until,
)

from nexusforge.nexus.venues.bybit import (
    BybitPrivateWs,
    BybitRestClient,
    Credentials,
    CredentialsError,
    SecretFilter,
    load_credentials,
)
from nexusforge.nexus.venues.bybit.keys import (
    ENV_API_KEY,
    ENV_API_SECRET,
    ENV_KEYFILE,
    from_env,
    from_keyfile,
    install_secret_filter,
)

SECRET = "s3cr3t-VALUE-0123456789abcdef"


def keyfile(tmp_path: Path, mode: int, text: str | None = None) -> Path:
    path = tmp_path / "bybit.toml"
    path.write_text(
        text if text is not None else f'api_key = "k-123456789"\napi_secret = "{SECRET}"\n'
    )
    path.chmod(mode)
    return path


def test_env_credentials() -> None:
    creds = from_env({ENV_API_KEY: "k-123456789", ENV_API_SECRET: SECRET})
    assert creds is not None and creds.api_key == "k-123456789"
    assert from_env({}) is None
    with pytest.raises(CredentialsError, match="both"):
        from_env({ENV_API_KEY: "k-123456789"})
    with pytest.raises(CredentialsError, match="both"):
        from_env({ENV_API_KEY: "k", ENV_API_SECRET: ""})


def test_keyfile_needs_owner_only_permissions(tmp_path: Path) -> None:
    assert from_keyfile(keyfile(tmp_path, 0o600)).api_key == "k-123456789"
    assert from_keyfile(keyfile(tmp_path, 0o400)).api_key == "k-123456789"
    for mode in (0o644, 0o640, 0o604, 0o660):
        with pytest.raises(CredentialsError, match="chmod 600") as err:
            from_keyfile(keyfile(tmp_path, mode))
        assert SECRET not in str(err.value)


def test_bad_keyfiles_are_refused_without_quoting_them(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match="cannot be read"):
        from_keyfile(tmp_path / "absent.toml")
    with pytest.raises(CredentialsError, match="not a regular file"):
        from_keyfile(tmp_path)
    broken = keyfile(tmp_path, 0o600, f'api_secret = "{SECRET}\nnot toml')
    with pytest.raises(CredentialsError, match="TOML") as err:
        from_keyfile(broken)
    assert SECRET not in str(err.value) and err.value.__cause__ is None
    with pytest.raises(CredentialsError, match="api_key and api_secret"):
        from_keyfile(keyfile(tmp_path, 0o600, "api_key = 1\n"))


def test_load_order(tmp_path: Path) -> None:
    path = keyfile(tmp_path, 0o600)
    env = {ENV_API_KEY: "env-key-123", ENV_API_SECRET: "env-secret"}
    assert load_credentials(path, env).api_key == "k-123456789"  # an explicit file wins
    assert load_credentials(None, env).api_key == "env-key-123"
    assert load_credentials(None, {ENV_KEYFILE: str(path)}).api_key == "k-123456789"
    with pytest.raises(CredentialsError, match=ENV_API_KEY):
        load_credentials(None, {})


def test_secret_never_in_repr_str_or_pickle() -> None:
    creds = Credentials("k-123456789", SECRET)
    for text in (repr(creds), str(creds), f"{creds}", f"{creds!r}", repr([creds])):
        assert SECRET not in text and "***" in text
    assert "k-12" in repr(creds) and "k-123456789" not in repr(creds)
    with pytest.raises(TypeError):
        pickle.dumps(creds)
    assert not hasattr(creds, "__dict__")
    with pytest.raises(CredentialsError):
        Credentials("k", " padded ")


def test_secret_filter_redacts_messages_args_and_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    creds = Credentials("k-123456789", SECRET)
    flt = install_secret_filter(creds, [caplog.handler])
    try:
        log = logging.getLogger("nexusforge.test.keys")
        log.warning("direct %s", SECRET)
        log.warning(f"inline {SECRET}")
        try:
            raise ValueError(f"boom {SECRET}")
        except ValueError:
            log.exception("failed")
    finally:
        caplog.handler.removeFilter(flt)
    assert SECRET not in caplog.text
    assert caplog.text.count("***") >= 3
    assert isinstance(flt, SecretFilter)


def test_no_log_of_a_real_session_contains_the_secret(
    shared_data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Every logger at DEBUG (httpx, httpcore, websockets frames) over signed REST and WS auth."""
    caplog.set_level(logging.DEBUG)
    # Other code in the process (the `nexus run` command) quiets some of these; open them again.
    for name in ("httpx", "httpcore", "websockets", "nexusforge"):
        caplog.set_level(logging.DEBUG, logger=name)
    rest_peer = RestPeer(shared_data)

    async def script(conn: PeerConn) -> None:
        await accept_auth(conn, success=len(conn.peer.conns) > 1)
        await asyncio.sleep(5)

    async def main() -> None:
        ws_peer = WsPeer(script, private=True)
        async with ws_peer.running(), serve_rest(rest_peer) as port:
            cfg = config(rest_port=port, ws_port=ws_peer.port)
            async with BybitRestClient(cfg, credentials()) as rest:
                await rest.wallet_balance()
                await rest.open_orders("BTCUSDT")
                client = BybitPrivateWs(cfg, credentials(), lambda e: None, rest=rest)
                client.start()
                await wait_until(lambda: client.authenticated)
                await client.stop()

    asyncio.run(main())
    # The logs did see the traffic (so the scan below means something).
    assert "/v5/account/wallet-balance" in caplog.text
    assert '"op":"auth"' in caplog.text.replace(" ", "")
    assert API_SECRET not in caplog.text
    assert os.environ.get(ENV_API_SECRET) is None or os.environ[ENV_API_SECRET] not in caplog.text
