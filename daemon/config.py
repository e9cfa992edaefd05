"""Daemon configuration: environment, `.env`, then defaults.

Every variable the product documents is a field here, so an operator can look in one place (and
`configs/scrappy.env.example` mirrors it). Values with a fixed vocabulary are `Literal`s: a typo
such as `ASR_BACKEND=fasterwhisper` fails at start-up with a message naming the variable, instead
of surfacing as a confusing error in the middle of a call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PORT = 8765
DEFAULT_URL = f"http://127.0.0.1:{DEFAULT_PORT}"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("scrappy", appauthor=False))


class Settings(BaseSettings):
    """All runtime settings. Field names map 1:1 to upper-case environment variables."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # --- where things live -------------------------------------------------------------------
    scrappy_data_dir: Path = Field(default_factory=default_data_dir)
    scrappy_url: str = DEFAULT_URL
    scrappy_token: str | None = None
    scrappy_host: str = "127.0.0.1"
    scrappy_port: int = DEFAULT_PORT

    # --- store -------------------------------------------------------------------------------
    mongodb_url: str | None = None
    mongodb_db: str = "scrappy"

    # --- brain -------------------------------------------------------------------------------
    openai_api_key: str | None = None
    openai_base_url: str | None = None
    openai_model_critical: str = "gpt-4o"
    openai_model_cheap: str = "gpt-4o-mini"
    llm_cache_ttl_seconds: float = Field(default=30, ge=0)
    llm_first_token_deadline_ms: int = Field(default=1500, ge=50)
    llm_reply_deadline_seconds: float = Field(default=8.0, gt=0)  # whole non-streamed replies
    crm_path: Path | None = None  # leads for fetch_crm_data (JSON or CSV); default DATA_DIR/crm.csv

    # --- speech: TTS -------------------------------------------------------------------------
    tts_backend: Literal["auto", "piper", "elevenlabs"] = "auto"
    tts_cache_enabled: bool = True
    tts_cache_dir: Path | None = None  # default: DATA_DIR/tts_cache
    elevenlabs_api_key: str | None = None
    elevenlabs_base_url: str | None = None
    elevenlabs_default_voice_id: str = "21m00Tcm4TlvDq8ikWAM"
    elevenlabs_model_id: str = "eleven_flash_v2_5"
    elevenlabs_use_ws_tts: bool = False
    piper_voice_path: Path | None = None

    # --- speech: ASR and turn-taking ---------------------------------------------------------
    asr_backend: Literal["faster-whisper", "whispercpp", "stub"] = "faster-whisper"
    asr_model_path: Path | None = None
    asr_min_rms: float = Field(default=200.0, ge=0)
    asr_min_utterance_ms: int = Field(default=160, ge=0)
    asr_max_silence_ms: int = Field(default=700, ge=100)
    asr_speculative_pause_ms: int = Field(default=180, ge=80)  # = max silence: silence-only turns
    asr_workers: int = Field(default=2, ge=1)
    asr_cpu_threads: int = Field(default=2, ge=1)
    vad_aggressiveness: int = Field(default=2, ge=0, le=3)
    bargein_min_ms: int = Field(default=200, ge=20)
    silence_timeout_seconds: float = Field(default=12.0, gt=0)
    dtmf_optout_digit: str = "9"
    ai_disclosure: bool = True

    # --- translation -------------------------------------------------------------------------
    translation_backend: Literal["passthrough", "nllb", "bhashini"] = "passthrough"
    nllb_model: str | None = None
    bhashini_api_key: str | None = None
    bhashini_base_url: str | None = None

    # --- telephony ---------------------------------------------------------------------------
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_phone_number: str | None = None
    twilio_public_base_url: str | None = None
    twilio_call_webhook_url: str | None = None
    twilio_api_base_url: str | None = None
    twilio_machine_detection: Literal["Enable", "DetectMessageEnd", "off"] = "DetectMessageEnd"
    voicemail_action: Literal["leave_message", "hangup"] = "leave_message"
    api_base_url: str | None = None

    # --- dialing policy ----------------------------------------------------------------------
    allowed_countries: str = "US,CA,GB,IN,AU"
    calling_hours_start: int = Field(default=8, ge=0, le=23)
    calling_hours_end: int = Field(default=21, ge=1, le=24)

    # --- campaigns ---------------------------------------------------------------------------
    temporal_address: str | None = None  # host:port of a Temporal server; unset = embedded
    temporal_namespace: str = "default"
    temporal_api_key: str | None = None  # Temporal Cloud API key (implies TLS)
    temporal_tls: bool = False
    temporal_tls_cert: Path | None = None  # mTLS client certificate (PEM), e.g. Temporal Cloud
    temporal_tls_key: Path | None = None
    temporal_tls_ca: Path | None = None  # a private CA for the server's certificate
    temporal_port: int = Field(default=0, ge=0, le=65535)  # embedded dev server; 0 = a free one
    calls_max_concurrent: int = Field(default=10, ge=1, le=500)  # this daemon's campaign dials

    # --- scheduler ---------------------------------------------------------------------------
    train_loop_time: str = "02:30"

    @field_validator("dtmf_optout_digit")
    @classmethod
    def _one_digit(cls, value: str) -> str:
        if value not in set("0123456789*#"):
            raise ValueError("must be one of 0-9, * or #")
        return value

    @field_validator("train_loop_time")
    @classmethod
    def _hh_mm(cls, value: str) -> str:
        hour, _, minute = value.partition(":")
        if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
            raise ValueError("must be HH:MM in 24-hour time")
        return value

    # --- derived values ----------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self.scrappy_data_dir.expanduser()

    @property
    def tts_cache_path(self) -> Path:
        return (self.tts_cache_dir or self.data_dir / "tts_cache").expanduser()

    @property
    def crm_file(self) -> Path:
        return (self.crm_path or self.data_dir / "crm.csv").expanduser()

    @property
    def allowed_country_codes(self) -> frozenset[str]:
        return frozenset(c.strip().upper() for c in self.allowed_countries.split(",") if c.strip())

    @property
    def twilio_enabled(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token)

    @property
    def llm_enabled(self) -> bool:
        return bool(self.openai_api_key or self.openai_base_url)

    @property
    def elevenlabs_enabled(self) -> bool:
        return bool(self.elevenlabs_api_key) and self.tts_backend in ("auto", "elevenlabs")


class ConfigError(Exception):
    """Raised when the environment holds a value the daemon cannot run with."""


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning pydantic's error into one readable line per bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]).upper()
            lines.append(f"{name}: {err['msg']} (got {err.get('input')!r})")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from None
