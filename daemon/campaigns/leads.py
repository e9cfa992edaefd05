"""Lead lists: CSV or XLSX rows in, validated leads (or every problem, by row and column) out.

Columns are found by header, case- and punctuation-blind (`Phone Number`, `phone_number` and
`mobile` are all the phone). Known columns: phone (required), name (or first and last name),
company, timezone. Every other non-empty column is kept as the lead's `context`, which the
brain may use. Numbers are normalised to E.164 with `phonenumbers` (a national number needs
`default_region`); the same number twice is one lead (the first row's fields win, later rows
fill gaps). A list with any invalid row creates nothing: the caller reports `problems`.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import PhoneNumberFormat

MAX_LEADS = 10_000
MAX_FIELD_CHARS = 500

_ALIASES = {
    "phone": ("phone", "phonenumber", "number", "mobile", "mobilenumber", "cell", "tel",
              "telephone", "leadphone", "e164"),
    "name": ("name", "fullname", "leadname", "contact", "contactname"),
    "first_name": ("firstname", "first", "givenname"),
    "last_name": ("lastname", "last", "surname", "familyname"),
    "company": ("company", "companyname", "organisation", "organization", "account", "business"),
    "timezone": ("timezone", "tz", "zone", "timezonename", "iana"),
}


@dataclass
class LeadImport:
    leads: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    duplicates: int = 0


def _key(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


def _column_roles(headers: list[str]) -> dict[int, str]:
    """Column index -> role ("phone", "name", ...) or "context:<header>"."""
    roles: dict[int, str] = {}
    taken: set[str] = set()
    for i, header in enumerate(headers):
        key = _key(header)
        role = next((r for r, names in _ALIASES.items() if key in names and r not in taken), None)
        if role is not None:
            taken.add(role)
            roles[i] = role
        elif header.strip():
            roles[i] = "context:" + header.strip()[:60]
    return roles


def read_rows(data: bytes, filename: str) -> list[list[str]]:
    """The sheet's rows as text (header first). XLSX: the first worksheet; else CSV (UTF-8,
    a BOM is fine, delimiter sniffed among , ; and tab)."""
    if Path(filename).suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            sheet = book.worksheets[0]
            return [["" if v is None else _cell_text(v) for v in row]
                    for row in sheet.iter_rows(values_only=True)]
        finally:
            book.close()
    text = data.decode("utf-8-sig")
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return [row for row in csv.reader(io.StringIO(text), dialect)]


def _cell_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone typed into Excel as a number: 14155550123.0
    return str(value).strip()


def parse_leads(rows: list[list[str]], default_region: str | None = None) -> LeadImport:
    """Validate the rows (row numbers as a spreadsheet shows them: the header is row 1)."""
    out = LeadImport()
    if not rows or not any(cell.strip() for cell in rows[0]):
        out.problems.append("row 1: no header row (need at least a phone column)")
        return out
    roles = _column_roles([str(h) for h in rows[0]])
    if "phone" not in roles.values():
        out.problems.append(f"row 1: no phone column (headers: {', '.join(rows[0])[:200]})")
        return out
    headers = {role: str(rows[0][i]).strip() for i, role in roles.items()}
    by_phone: dict[str, dict[str, Any]] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(str(cell).strip() for cell in row):
            continue  # blank lines
        lead = _lead_from(row, roles, headers, number, default_region, out.problems)
        if lead is None:
            continue
        seen = by_phone.get(lead["phone"])
        if seen is not None:
            out.duplicates += 1
            for key, value in lead.items():
                if key == "context":
                    seen["context"] = {**value, **seen["context"]}
                elif not seen.get(key):
                    seen[key] = value
            continue
        by_phone[lead["phone"]] = lead
        if len(by_phone) > MAX_LEADS:
            out.problems.append(f"row {number}: more than {MAX_LEADS} leads; split the list")
            break
    out.leads = list(by_phone.values())
    if not out.leads and not out.problems:
        out.problems.append("no leads: the file has a header but no rows")
    return out


def _lead_from(row: list[str], roles: dict[int, str], header: dict[str, str], number: int,
               region: str | None, problems: list[str]) -> dict[str, Any] | None:
    fields: dict[str, str] = {}
    context: dict[str, str] = {}
    for i, raw in enumerate(row):
        role = roles.get(i)
        value = str(raw).strip()[:MAX_FIELD_CHARS]
        if role is None or not value:
            continue
        if role.startswith("context:"):
            context[role.removeprefix("context:")] = value
        else:
            fields[role] = value
    phone = fields.get("phone", "")
    if not phone:
        problems.append(f"row {number}, column {header['phone']}: no phone number")
        return None
    try:
        e164 = normalise_lead_phone(phone, region)
    except ValueError as exc:
        problems.append(f"row {number}, column {header['phone']}: {exc}")
        return None
    tz = fields.get("timezone")
    if tz is not None and not _is_zone(tz):
        problems.append(f"row {number}, column {header['timezone']}: {tz!r} is not an IANA "
                        "time zone (e.g. America/New_York)")
        return None
    name = fields.get("name") or " ".join(
        p for p in (fields.get("first_name"), fields.get("last_name")) if p) or None
    return {"phone": e164, "name": name, "company": fields.get("company"), "timezone": tz,
            "context": context}


def normalise_lead_phone(text: str, region: str | None = None) -> str:
    """E.164 for a lead's number; ValueError says why not (validity is the dialer's check)."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        national = any(c.isdigit() for c in text) and not text.strip().startswith("+")
        hint = " (write it as +<country code><number>, or pass --region)" \
            if national and not region else ""
        raise ValueError(f"{text!r} is not a phone number{hint}") from None
    if not phonenumbers.is_possible_number(number):
        raise ValueError(f"{text!r} has the wrong number of digits for its country")
    return str(phonenumbers.format_number(number, PhoneNumberFormat.E164))


def _is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def validate_lead(data: object, index: int) -> tuple[dict[str, Any] | None, list[str]]:
    """One lead as the API receives it (`leads[i]`): the same rules as a file row."""
    where = f"leads[{index}]"
    if not isinstance(data, dict):
        return None, [f"{where}: must be an object with at least a phone"]
    problems = [f"{where}.{k}: must be a string" for k in ("phone", "name", "company", "timezone")
                if data.get(k) is not None and not isinstance(data.get(k), str)]
    context = data.get("context") or {}
    if not isinstance(context, dict) or not all(
            isinstance(k, str) and isinstance(v, str | int | float) for k, v in context.items()):
        problems.append(f"{where}.context: must be an object of short text fields")
    if problems:
        return None, problems
    if not data.get("phone"):
        return None, [f"{where}.phone: field required"]
    try:
        phone = normalise_lead_phone(str(data["phone"]))
    except ValueError as exc:
        return None, [f"{where}.phone: {exc}"]
    tz = data.get("timezone") or None
    if tz is not None and not _is_zone(tz):
        return None, [f"{where}.timezone: {tz!r} is not an IANA time zone"]
    return {"phone": phone, "name": data.get("name") or None, "company": data.get("company") or None,
            "timezone": tz,
            "context": {str(k)[:60]: str(v)[:MAX_FIELD_CHARS] for k, v in context.items()}}, []
