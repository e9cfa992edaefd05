"""How the campaign engine reaches a remote Temporal: plain, TLS, API key, or mTLS files."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from daemon.campaigns.engine import EngineUnavailable, temporal_binary, tls_config
from daemon.config import load_settings


def test_plain_tls_and_api_key() -> None:
    assert tls_config(load_settings()) is False
    assert tls_config(load_settings(temporal_tls=True)) is True
    assert tls_config(load_settings(temporal_api_key="k")) is True  # Temporal Cloud: always TLS


def test_mtls_reads_the_pem_files(tmp_path: Path) -> None:
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    cert.write_bytes(b"CERT")
    key.write_bytes(b"KEY")
    tls = tls_config(load_settings(temporal_tls_cert=cert, temporal_tls_key=key))
    assert isinstance(tls, TLSConfig)
    assert (tls.client_cert, tls.client_private_key, tls.server_root_ca_cert) == (b"CERT", b"KEY", None)
    with pytest.raises(EngineUnavailable, match="go together"):
        tls_config(load_settings(temporal_tls_cert=cert))
    with pytest.raises(EngineUnavailable, match="cannot read"):
        tls_config(load_settings(temporal_tls_cert=cert, temporal_tls_key=tmp_path / "nope"))


def test_the_packaged_temporal_binary_is_found() -> None:
    assert Path(temporal_binary()).name == "temporal"
