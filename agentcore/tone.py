"""Persona tone -> voice settings, in one place.

The same words that steer the LLM's wording (`tone`, and `tone_override` when set) steer how the
voice sounds. ElevenLabs uses all four numbers; Piper uses `speed` (as its length scale).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VoiceSettings:
    stability: float = 0.5
    similarity_boost: float = 0.75
    style: float = 0.0
    speed: float = 1.0

    def key(self) -> str:
        """Stable text form for cache keys."""
        return f"st{self.stability:.2f}-si{self.similarity_boost:.2f}-sy{self.style:.2f}-sp{self.speed:.2f}"


# word -> (stability delta, style delta, speed delta)
_TONE_WORDS: dict[str, tuple[float, float, float]] = {
    "calm": (0.15, -0.05, -0.05),
    "empathetic": (0.10, 0.05, -0.05),
    "warm": (0.05, 0.05, -0.02),
    "friendly": (0.0, 0.10, 0.0),
    "professional": (0.10, -0.05, 0.0),
    "formal": (0.15, -0.10, -0.03),
    "confident": (0.05, 0.10, 0.02),
    "assertive": (-0.05, 0.20, 0.05),
    "energetic": (-0.15, 0.25, 0.08),
    "enthusiastic": (-0.15, 0.25, 0.08),
    "excited": (-0.20, 0.30, 0.10),
    "urgent": (-0.10, 0.15, 0.10),
    "relaxed": (0.10, 0.0, -0.08),
    "soft": (0.15, -0.05, -0.05),
}


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def voice_settings_for(tone: str | None, tone_override: str | None = None) -> VoiceSettings:
    """Map tone words to settings; `tone_override` wins over `tone` when present."""
    words = (tone_override or tone or "").lower().replace(",", " ").split()
    stability, style, speed = 0.5, 0.0, 1.0
    for word in words:
        ds, dy, dp = _TONE_WORDS.get(word, (0.0, 0.0, 0.0))
        stability, style, speed = stability + ds, style + dy, speed + dp
    return VoiceSettings(
        stability=round(_clamp(stability, 0.2, 0.9), 2),
        similarity_boost=0.75,
        style=round(_clamp(style, 0.0, 0.6), 2),
        speed=round(_clamp(speed, 0.85, 1.15), 2),
    )
