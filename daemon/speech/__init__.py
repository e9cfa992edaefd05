"""Speech backends: ASR (phone audio -> text), TTS (text -> 8 kHz mu-law) and translation.

Each concern is one small interface with an embedded default and real providers:

- `daemon.speech.asr`: `ASRBackend`, `FasterWhisperASR` (bundled tiny.en), `WhisperCppASR`,
  `StubASR` (tests only).
- `daemon.speech.tts`: `TTSBackend`, `FallbackTTS`; `piper_tts.PiperTTS` (bundled voice),
  `elevenlabs_tts.ElevenLabsRestTTS` / `ElevenLabsWsTTS`; `tts_cache.TTSCache` / `CachedTTS`.
- `daemon.speech.translation`: `Translator`, passthrough / NLLB / Bhashini.
- `daemon.speech.factory`: builds the configured backends from `daemon.config.Settings`.

This package imports nothing on purpose: model runtimes (ctranslate2, onnxruntime) and SDKs
load only when a backend is constructed, so `scrappy --help` stays fast.
"""
