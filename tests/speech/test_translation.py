"""Translators: passthrough, NLLB's configuration errors, Bhashini's wire format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from daemon.config import ConfigError, Settings
from daemon.speech.translation import (
    BhashiniTranslator,
    NLLBTranslator,
    PassthroughTranslator,
    TranslationError,
    create_translator,
    language_of,
)


def test_language_of_locales() -> None:
    assert [language_of(x) for x in ("hi-IN", "en_US", "ta", "")] == ["hi", "en", "ta", "en"]


async def test_passthrough_returns_text_unchanged() -> None:
    translator = PassthroughTranslator()
    assert await translator.to_english("नमस्ते", "hi-IN") == "नमस्ते"
    assert await translator.from_english("Hello", "hi-IN") == "Hello"


def test_nllb_needs_a_local_model(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="NLLB_MODEL"):
        NLLBTranslator(None)
    with pytest.raises(ConfigError, match="NLLB_MODEL"):
        NLLBTranslator(tmp_path / "missing")
    with pytest.raises(ConfigError, match="transformers"):
        NLLBTranslator(tmp_path)  # a directory, but transformers is not installed here


class FakeBhashini:
    """Answers Bhashini's pipeline request by tagging the text with the language pair."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.status != 200:
            return httpx.Response(self.status, json={"detail": "nope"})
        body = json.loads(request.content)
        task = body["pipelineTasks"][0]
        pair = task["config"]["language"]
        source = body["inputData"]["input"][0]["source"]
        target = f"[{pair['sourceLanguage']}->{pair['targetLanguage']}] {source}"
        output = [{"source": source, "target": target}]
        return httpx.Response(
            200, json={"pipelineResponse": [{"taskType": task["taskType"], "output": output}]}
        )


def bhashini(fake: FakeBhashini, **kwargs: Any) -> BhashiniTranslator:
    return BhashiniTranslator(
        "bh-key", base_url="http://bhashini.test", transport=httpx.MockTransport(fake), **kwargs
    )


async def test_bhashini_round_trip_and_request_shape() -> None:
    fake = FakeBhashini()
    translator = bhashini(fake)
    try:
        assert await translator.to_english("kya haal hai", "hi-IN") == "[hi->en] kya haal hai"
        assert await translator.from_english("Hello", "ta-IN") == "[en->ta] Hello"
        assert await translator.to_english("Hello", "en-IN") == "Hello"  # no request
    finally:
        await translator.close()
    assert len(fake.requests) == 2
    request = fake.requests[0]
    assert request.url == "http://bhashini.test/services/inference/pipeline"
    assert request.headers["authorization"] == "bh-key"
    task = json.loads(request.content)["pipelineTasks"][0]
    assert task["taskType"] == "translation"
    assert task["config"]["serviceId"] == BhashiniTranslator.DEFAULT_SERVICE_ID


async def test_bhashini_http_error_is_a_translation_error() -> None:
    translator = bhashini(FakeBhashini(status=502))
    try:
        with pytest.raises(TranslationError, match="502"):
            await translator.to_english("kya haal hai", "hi-IN")
    finally:
        await translator.close()


def test_factory_picks_the_configured_translator(tmp_path: Path) -> None:
    def make(**values: Any) -> Settings:
        return Settings(_env_file=None, scrappy_data_dir=tmp_path, **values)  # type: ignore[call-arg]

    assert isinstance(create_translator(make()), PassthroughTranslator)
    with pytest.raises(ConfigError, match="BHASHINI_API_KEY"):
        create_translator(make(translation_backend="bhashini", bhashini_api_key=None))
    with pytest.raises(ConfigError, match="NLLB_MODEL"):
        create_translator(make(translation_backend="nllb", nllb_model=None))
    translator = create_translator(
        make(translation_backend="bhashini", bhashini_api_key="k", bhashini_base_url="http://x")
    )
    assert isinstance(translator, BhashiniTranslator) and translator.base_url == "http://x"
