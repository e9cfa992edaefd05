"""Tools the LLM may call, with their OpenAI function schemas, and the guardrails around them.

A tool is a name, a JSON schema for its arguments and an async handler. The registry turns
model output (arguments as a JSON string, possibly malformed) into a `ToolResult` and never
raises: a bad call becomes an error result the model can read and recover from.

Guardrail: no tool ever reaches a phone number that neither the strategy nor the call
provided. `send_followup_sms` does not even take a number; it texts the lead's own phone.
`fetch_crm_data` may look up only the lead or a number written in the strategy. Tools that
end the conversation (`end_call`, `book_demo`, `schedule_callback`) only report a decision:
the agent applies it after the turn, so the goodbye is always spoken before the hang-up.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from agentcore.intents import tokens
from agentcore.lexicon import STOPWORDS
from agentcore.phones import allowed, numbers_in, to_e164
from agentcore.protocols import CRMAdapter, Messenger
from agentcore.strategy import Strategy

ToolHandler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
MAX_SMS_CHARS = 480

# Tools whose result only records a decision; the model need not see it to go on talking.
DECISION_TOOLS = frozenset({"end_call", "book_demo", "schedule_callback", "send_followup_sms"})


class ToolError(Exception):
    """A tool refused or failed; the message is shown to the model."""


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]
    handler: ToolHandler

    def schema(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


@dataclass
class ToolResult:
    name: str
    args: dict[str, Any]
    ok: bool
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def content(self) -> str:
        """What goes back to the model as the `tool` message."""
        body = {"ok": True, **self.data} if self.ok else {"ok": False, "error": self.error}
        return json.dumps(body, ensure_ascii=False, default=str)


_PY_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str, "integer": int, "number": (int, float), "boolean": bool, "object": dict,
    "array": list,
}


def _check_args(schema: dict[str, Any], args: dict[str, Any]) -> None:
    props: dict[str, Any] = schema.get("properties", {})
    for name in schema.get("required", []):
        if args.get(name) in (None, ""):
            raise ToolError(f"missing required argument {name!r}")
    for name, value in args.items():
        if name not in props:
            raise ToolError(f"unexpected argument {name!r}")
        expected = _PY_TYPES.get(props[name].get("type", ""), object)
        if not isinstance(value, expected):
            raise ToolError(f"argument {name!r} must be a {props[name].get('type')}")


class ToolRegistry:
    """Named tools; `openai_schemas()` for the request, `call()` for the model's calls."""

    def __init__(self, tools: list[Tool] | None = None) -> None:
        self._tools: dict[str, Tool] = {}
        for tool in tools or []:
            self.register(tool)

    def register(self, tool: Tool) -> None:
        self._tools[tool.name] = tool

    def names(self) -> list[str]:
        return list(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def openai_schemas(self) -> list[dict[str, Any]]:
        return [tool.schema() for tool in self._tools.values()]

    async def call(self, name: str, arguments: dict[str, Any] | str | None) -> ToolResult:
        if isinstance(arguments, str):
            try:
                parsed = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError as exc:
                return ToolResult(name, {}, False, error=f"arguments are not JSON: {exc.msg}")
        else:
            parsed = dict(arguments or {})
        if not isinstance(parsed, dict):
            return ToolResult(name, {}, False, error="arguments must be a JSON object")
        tool = self._tools.get(name)
        if tool is None:
            return ToolResult(name, parsed, False, error=f"unknown tool {name!r}")
        try:
            _check_args(tool.parameters, parsed)
            data = await tool.handler(parsed)
        except ToolError as exc:
            return ToolResult(name, parsed, False, error=str(exc))
        except Exception as exc:  # a provider failure must not end the turn
            return ToolResult(name, parsed, False, error=f"{type(exc).__name__}: {exc}")
        return ToolResult(name, parsed, True, data=data)


def _roots(text: str) -> set[str]:
    """Content words cut to five letters, so "secure" meets "security"."""
    return {t[:5] for t in tokens(text) if t not in STOPWORDS}


def search_strategy(strategy: Strategy, query: str, limit: int = 3) -> list[dict[str, str]]:
    """Rank the strategy's scripted text by words shared with `query` (keys count double)."""
    docs: list[tuple[str, str, str]] = []
    s = strategy.scripts
    for name in ("greeting", "pitch", "voicemail"):
        if getattr(s, name):
            docs.append((f"scripts.{name}", name, getattr(s, name)))
    for section, mapping in (("faqs", s.faqs), ("objections", s.objections),
                             ("fallback_scenarios", strategy.fallback_scenarios)):
        docs += [(f"{section}.{key}", key, text) for key, text in mapping.items()]
    docs += [(f"closing_techniques.{i}", "", t) for i, t in enumerate(strategy.closing_techniques)]
    wanted = _roots(query)
    scored = []
    for source, key, text in docs:
        score = 2 * len(wanted & _roots(key.replace("_", " "))) + len(wanted & _roots(text))
        if score:
            scored.append((score, source, text))
    scored.sort(key=lambda item: -item[0])
    return [{"source": source, "text": text} for _, source, text in scored[:limit]]


@dataclass
class ToolContext:
    """What the sales tools may reach for one call."""

    strategy: Callable[[], Strategy]
    lead_phone: str | None = None
    region: str | None = None
    messenger: Messenger | None = None
    crm: CRMAdapter | None = None

    def allowed_numbers(self) -> set[str]:
        found = numbers_in(self.strategy().to_document(), self.region)
        lead = to_e164(self.lead_phone, self.region) if self.lead_phone else None
        return found | ({lead} if lead else set())

    def permit(self, number: str) -> str:
        """The canonical number, or ToolError when neither strategy nor call provided it."""
        e164 = allowed(number, self.allowed_numbers(), self.region)
        if e164 is None:
            raise ToolError(f"guardrail: {number!r} was not provided by the strategy or the call")
        return e164


def _text_arg(name: str, description: str) -> dict[str, Any]:
    return {"type": "object", "properties": {name: {"type": "string", "description": description}},
            "required": [name]}


def sales_tools(ctx: ToolContext) -> ToolRegistry:
    """The tool set every SalesAgent carries."""

    async def end_call(args: dict[str, Any]) -> dict[str, Any]:
        return {"ending": True, "reason": args.get("reason") or "conversation_over"}

    async def book_demo(args: dict[str, Any]) -> dict[str, Any]:
        return {"booked": True, "slot": args["slot"].strip()}

    async def schedule_callback(args: dict[str, Any]) -> dict[str, Any]:
        return {"scheduled": True, "when": args["when"].strip()}

    async def send_followup_sms(args: dict[str, Any]) -> dict[str, Any]:
        if ctx.messenger is None:
            raise ToolError("text messages are not configured")
        if not ctx.lead_phone:
            raise ToolError("this conversation has no lead phone number")
        to = to_e164(ctx.lead_phone, ctx.region)
        if to is None:
            raise ToolError("the lead's phone number is not valid")
        text = args["text"].strip()[:MAX_SMS_CHARS]
        message_id = await ctx.messenger.send_sms(to, text)
        return {"sent": True, "message_id": message_id}

    async def search_docs(args: dict[str, Any]) -> dict[str, Any]:
        return {"results": search_strategy(ctx.strategy(), args["query"])}

    async def fetch_crm_data(args: dict[str, Any]) -> dict[str, Any]:
        if ctx.crm is None:
            raise ToolError("no CRM is configured")
        phone = args.get("phone") or ctx.lead_phone
        if not phone:
            raise ToolError("no phone number to look up")
        record = await ctx.crm.fetch(ctx.permit(phone))
        return {"found": record is not None, "record": record or {}}

    return ToolRegistry([
        Tool("end_call", "Hang up after your reply, when the conversation is over.",
             {"type": "object", "properties": {"reason": {
                 "type": "string",
                 "description": "goodbye, not_interested, do_not_call, callback or voicemail"}}},
             end_call),
        Tool("book_demo", "Book the meeting once the lead has agreed to a specific slot.",
             _text_arg("slot", "The day and time the lead agreed to, in their words."),
             book_demo),
        Tool("schedule_callback", "Schedule a call back when the lead asks to be called later.",
             _text_arg("when", "When to call back, in the lead's words."), schedule_callback),
        Tool("send_followup_sms", "Text the lead (only the lead's own number) a short follow-up.",
             _text_arg("text", "The message; facts only from the strategy."), send_followup_sms),
        Tool("search_docs", "Search the strategy's scripts and FAQs for facts.",
             _text_arg("query", "What to look for."), search_docs),
        Tool("fetch_crm_data", "Look up what the CRM knows about the lead.",
             {"type": "object", "properties": {"phone": {"type": "string"}}}, fetch_crm_data),
    ])
