"""Tests for daemon.speech: ASR, TTS, cache, fallback chain, translation, factory."""
