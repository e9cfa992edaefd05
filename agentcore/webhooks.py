"""`ingest_webhook_payload`: one live payload in, a report of what changed out.

Fields are applied in a fixed order so their effects compose predictably: the adapter first
(it may rewrite the payload, e.g. Twilio's `SpeechResult` -> `transcript`), then persona,
goals and strategy changes (validated together against the strategy model, so a bad field is
rejected without touching the others), then `spawn_subagent`, then the `intent.delegate_to`
handoff, and last the reply to `transcript`/`text` when `auto_reply` is set (so the reply
already uses the new persona). Nothing raises: problems are listed in `errors` and `status`
says `ok`, `partial` (some changes applied) or `error` (nothing applied).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from agentcore.strategy import StrategyError, merge_strategy
from agentcore.subagents import SubagentError

if TYPE_CHECKING:
    from agentcore.base_agent import BaseAgent

# Fields an adapter may hand back to replace the payload's own.
ADAPTER_FIELDS = ("transcript", "text", "intent", "auto_reply", "stream", "persona", "goals",
                  "strategy", "spawn_subagent", "confidence")
KNOWN_FIELDS = frozenset({*ADAPTER_FIELDS, "adapter_key"})


def _strategy_patch(
    payload: Mapping[str, Any], errors: list[str]
) -> tuple[dict[str, Any], list[str]]:
    patch: dict[str, Any] = {}
    fields: list[str] = []
    for name in ("strategy", "persona", "goals"):
        if name not in payload or payload[name] is None:
            continue
        value = payload[name]
        if name == "strategy" and not isinstance(value, Mapping):
            errors.append("strategy: expected an object to merge into the strategy")
        elif name == "persona" and not isinstance(value, Mapping):
            errors.append("persona: expected an object of persona fields")
        elif name == "goals" and not (isinstance(value, list)
                                      and all(isinstance(g, str) for g in value)):
            errors.append("goals: expected a list of strings")
        elif name == "strategy":
            patch.update(dict(value))
            fields.append("strategy")
        else:
            patch[name] = dict(value) if name == "persona" else list(value)
            fields.append(name)
    return patch, fields


def twilio_stream_adapter(payload: dict[str, Any]) -> dict[str, Any]:
    """Built-in `twilio_stream`: Twilio's `SpeechResult` / `Confidence` or our `transcript`."""
    out: dict[str, Any] = {}
    text = payload.get("transcript") or payload.get("SpeechResult")
    if isinstance(text, str):
        out["transcript"] = text
    raw = payload.get("confidence", payload.get("Confidence"))
    try:
        if raw is not None and not isinstance(raw, bool):
            out["confidence"] = float(raw)  # Twilio sends it as a form string
    except (TypeError, ValueError):
        pass
    return out


def chat_adapter(payload: dict[str, Any]) -> dict[str, Any]:
    """Built-in `chat`: a chat widget's `text` (or `message`)."""
    text = payload.get("text") or payload.get("message")
    return {"text": text} if isinstance(text, str) else {}


BUILTIN_ADAPTERS = {"twilio_stream": twilio_stream_adapter, "chat": chat_adapter}
VOICE_ADAPTERS = frozenset({"twilio_stream"})  # a person on a phone line waits for the reply


async def ingest(agent: BaseAgent, payload: Mapping[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"status": "ok", "changed": [], "errors": []}
    errors: list[str] = result["errors"]
    changed: list[str] = result["changed"]
    if not isinstance(payload, Mapping):
        errors.append("payload: expected a JSON object")
        result["status"] = "error"
        return result
    data = dict(payload)
    ignored = sorted(str(k) for k in data if k not in KNOWN_FIELDS)
    if ignored:
        result["ignored"] = ignored

    key = data.get("adapter_key")
    if key is not None:
        try:
            adapter_out = await agent.run_adapter(str(key), data)
        except KeyError:
            known = ", ".join(agent.webhook_adapters()) or "none"
            errors.append(f"adapter_key: unknown adapter {key!r}; registered: {known}")
            return await _done(agent, data, result)
        except Exception as exc:  # an adapter is integration code; report, do not crash
            errors.append(f"adapter_key: adapter {key!r} failed: {type(exc).__name__}: {exc}")
            return await _done(agent, data, result)
        result["adapter"] = {"key": key, "result": adapter_out}
        for name in ADAPTER_FIELDS:
            if adapter_out and name in adapter_out:
                data[name] = adapter_out[name]

    if agent.trained:
        patch, fields = _strategy_patch(data, errors)
        if patch:
            try:
                strategy = merge_strategy(agent.strategy, patch)
            except StrategyError as exc:
                errors.extend(exc.problems)
            else:
                report = agent.train(strategy)
                changed.extend(fields)
                errors.extend(report["errors"])
                result["strategy"] = strategy.to_document()
    elif any(data.get(n) is not None for n in ("persona", "goals", "strategy")):
        errors.append("strategy: the agent has no strategy to change; train it first")

    spec = data.get("spawn_subagent")
    if spec is not None:
        if not isinstance(spec, Mapping):
            errors.append("spawn_subagent: expected an object like a strategy's subagents item")
        else:
            try:
                result["spawned"] = agent.spawn_subagent(spec)
                changed.append("subagents")
            except SubagentError as exc:
                errors.append(f"spawn_subagent: {exc}")

    text = data.get("transcript") or data.get("text")
    text = text.strip() if isinstance(text, str) else ""
    intent = data.get("intent")
    target = intent.get("delegate_to") if isinstance(intent, Mapping) else None
    if target and isinstance(intent, Mapping):
        delegation = await agent.delegate(str(target), {"text": text, "intent": dict(intent)})
        result["delegation"] = delegation
        if delegation["status"] == "error":
            errors.append(f"intent.delegate_to: {delegation['error']}")
        else:
            changed.append("delegation")

    if text and data.get("auto_reply") and agent.trained:
        publish = bool(data.get("stream"))
        # a caller is waiting on the line behind a voice adapter: the model is always streamed
        # so that its first-token deadline applies (a fallback line after ~1.5 s, not 8 s of
        # silence), whether or not the tokens are published
        stream = publish or data.get("adapter_key") in VOICE_ADAPTERS
        confidence = data.get("confidence")
        reply = await agent.generate_response(
            text,
            stream=stream,
            on_token=agent.stream_callback if publish else None,
            confidence=float(confidence) if isinstance(confidence, int | float) else None,
        )
        result["reply"] = reply.text
        result["reply_detail"] = reply.to_dict()
    elif text and data.get("auto_reply"):
        errors.append("transcript: the agent has no strategy to answer with")
    elif text:
        await agent.log_turn("lead", text, via="webhook")
    return await _done(agent, data, result)


async def _done(agent: BaseAgent, data: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    if result["errors"]:
        result["status"] = "partial" if result["changed"] or "reply" in result else "error"
    await agent.log_event(
        "webhook",
        {
            "adapter_key": data.get("adapter_key"),
            "fields": sorted(str(k) for k in data),
            "changed": result["changed"],
            "errors": result["errors"],
            "replied": "reply" in result,
        },
        importance=2 if result["errors"] else 1,
        source=str(data.get("adapter_key") or "webhook"),
    )
    return result
