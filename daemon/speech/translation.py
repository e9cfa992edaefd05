"""Translation around the brain: lead's words -> English, agent's English -> lead's language.

The brain (strategy, playbook, LLM prompts) works in English; a call in another locale
translates the lead's transcript in and the agent's reply out. English locales short-circuit
in every backend, so the default (`passthrough`) costs nothing.

- `PassthroughTranslator`: returns text unchanged.
- `NLLBTranslator`: Meta's NLLB-200 through `transformers`, from a local model directory
  (`NLLB_MODEL`); transformers is not a dependency of Scrappy, install it yourself.
- `BhashiniTranslator`: India's Bhashini (ULCA / Dhruva) inference pipeline over HTTPS with
  `BHASHINI_API_KEY`; the base URL is configurable (`BHASHINI_BASE_URL`).
"""

from __future__ import annotations

import asyncio
import threading
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from daemon.config import ConfigError, Settings


class TranslationError(RuntimeError):
    """The translation provider failed or answered something unusable."""


def language_of(locale: str) -> str:
    """ISO 639-1 language of a locale: "hi-IN" -> "hi", "en_US" -> "en", "" -> "en"."""
    return (locale.replace("_", "-").split("-")[0] or "en").lower()


class Translator(ABC):
    """English <-> the lead's language. Implementations must not block the event loop."""

    name: str = "translator"

    async def to_english(self, text: str, locale: str) -> str:
        """The lead's words (in `locale`'s language) in English."""
        lang = language_of(locale)
        if lang == "en" or not text.strip():
            return text
        return await self._translate(text, lang, "en")

    async def from_english(self, text: str, locale: str) -> str:
        """The agent's English words in `locale`'s language."""
        lang = language_of(locale)
        if lang == "en" or not text.strip():
            return text
        return await self._translate(text, "en", lang)

    @abstractmethod
    async def _translate(self, text: str, source: str, target: str) -> str:
        """Translate between two ISO 639-1 languages (never called for en -> en)."""

    def describe(self) -> str:
        return self.name

    async def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release clients and threads."""


class PassthroughTranslator(Translator):
    """No translation: the call is in English (or the brain handles the language itself)."""

    name = "passthrough"

    async def _translate(self, text: str, source: str, target: str) -> str:
        return text


# ISO 639-1 -> NLLB-200 (FLORES-200) codes for the languages we expect to call in
NLLB_CODES: dict[str, str] = {
    "en": "eng_Latn", "hi": "hin_Deva", "bn": "ben_Beng", "ta": "tam_Taml", "te": "tel_Telu",
    "mr": "mar_Deva", "gu": "guj_Gujr", "kn": "kan_Knda", "ml": "mal_Mlym", "pa": "pan_Guru",
    "ur": "urd_Arab", "or": "ory_Orya", "as": "asm_Beng", "ne": "npi_Deva", "es": "spa_Latn",
    "fr": "fra_Latn", "de": "deu_Latn", "pt": "por_Latn", "it": "ita_Latn", "nl": "nld_Latn",
    "ar": "arb_Arab", "zh": "zho_Hans", "ja": "jpn_Jpan", "ko": "kor_Hang", "ru": "rus_Cyrl",
    "tr": "tur_Latn", "vi": "vie_Latn", "id": "ind_Latn", "th": "tha_Thai", "pl": "pol_Latn",
    "uk": "ukr_Cyrl", "tl": "tgl_Latn", "sw": "swh_Latn",
}  # fmt: skip


class NLLBTranslator(Translator):
    """NLLB-200 seq2seq model from a local directory, run in one worker thread."""

    name = "nllb"

    def __init__(self, model_path: str | Path | None, *, max_new_tokens: int = 256) -> None:
        if not model_path:
            raise ConfigError("TRANSLATION_BACKEND=nllb needs NLLB_MODEL (a local model directory)")
        path = Path(model_path).expanduser()
        if not path.is_dir():
            raise ConfigError(f"NLLB_MODEL: {path} is not a local model directory")
        try:
            from transformers import AutoModelForSeq2SeqLM, AutoTokenizer
        except ImportError:
            raise ConfigError(
                "TRANSLATION_BACKEND=nllb needs transformers (pip install transformers "
                "sentencepiece torch); it is not installed with Scrappy"
            ) from None
        self._path = path
        self._tokenizer: Any = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        self._model: Any = AutoModelForSeq2SeqLM.from_pretrained(str(path), local_files_only=True)
        self._max_new_tokens = max_new_tokens
        self._lock = threading.Lock()  # the tokenizer's src_lang is per-instance state
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nllb")

    def _run(self, text: str, source: str, target: str) -> str:
        with self._lock:
            self._tokenizer.src_lang = source
            inputs = self._tokenizer(text, return_tensors="pt")
            output = self._model.generate(
                **inputs,
                forced_bos_token_id=self._tokenizer.convert_tokens_to_ids(target),
                max_new_tokens=self._max_new_tokens,
            )
            return str(self._tokenizer.batch_decode(output, skip_special_tokens=True)[0])

    async def _translate(self, text: str, source: str, target: str) -> str:
        try:
            src, tgt = NLLB_CODES[source], NLLB_CODES[target]
        except KeyError as exc:
            raise TranslationError(f"NLLB: no language code for {exc.args[0]!r}") from None
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._run, text, src, tgt)

    def describe(self) -> str:
        return f"nllb {self._path.name}"

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class BhashiniTranslator(Translator):
    """Bhashini's inference pipeline with a single `translation` task (IndicTrans2)."""

    name = "bhashini"
    DEFAULT_BASE_URL = "https://dhruva-api.bhashini.gov.in"
    PIPELINE_PATH = "/services/inference/pipeline"
    DEFAULT_SERVICE_ID = "ai4bharat/indictrans-v2-all-gpu--t4"

    def __init__(
        self,
        api_key: str | None,
        *,
        base_url: str | None = None,
        service_id: str = DEFAULT_SERVICE_ID,
        timeout_s: float = 10.0,
        transport: Any = None,
    ) -> None:
        if not api_key:
            raise ConfigError("TRANSLATION_BACKEND=bhashini needs BHASHINI_API_KEY")
        import httpx

        self.base_url = (base_url or self.DEFAULT_BASE_URL).rstrip("/")
        self.service_id = service_id
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": api_key},
            timeout=timeout_s,
            transport=transport,
        )

    async def _translate(self, text: str, source: str, target: str) -> str:
        import httpx

        payload = {
            "pipelineTasks": [
                {
                    "taskType": "translation",
                    "config": {
                        "language": {"sourceLanguage": source, "targetLanguage": target},
                        "serviceId": self.service_id,
                    },
                }
            ],
            "inputData": {"input": [{"source": text}]},
        }
        try:
            response = await self._client.post(self.PIPELINE_PATH, json=payload)
            response.raise_for_status()
            data = response.json()
            return str(data["pipelineResponse"][0]["output"][0]["target"])
        except httpx.HTTPError as exc:
            raise TranslationError(f"Bhashini request failed: {exc}") from exc
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise TranslationError(f"Bhashini answered an unexpected shape: {exc!r}") from exc

    def describe(self) -> str:
        return f"bhashini {self.service_id}"

    async def close(self) -> None:
        await self._client.aclose()


def create_translator(settings: Settings) -> Translator:
    """The translator `TRANSLATION_BACKEND` asks for (raises ConfigError when unusable)."""
    if settings.translation_backend == "nllb":
        return NLLBTranslator(settings.nllb_model)
    if settings.translation_backend == "bhashini":
        return BhashiniTranslator(settings.bhashini_api_key, base_url=settings.bhashini_base_url)
    return PassthroughTranslator()
