"""Lead lists: headers found by meaning, E.164, duplicates merged, problems by row and column."""

from __future__ import annotations

import io

import pytest

from daemon.campaigns.leads import parse_leads, read_rows, validate_lead


def test_columns_are_found_by_header_and_extra_columns_become_context() -> None:
    rows = read_rows(b"\xef\xbb\xbfPhone Number,First Name,Last Name,Company,TZ,Deal size\n"
                     b"+1 (415) 555-0101,Ann,Lee,Acme,America/Los_Angeles,10k\n", "leads.csv")
    parsed = parse_leads(rows)
    assert parsed.problems == []
    assert parsed.leads == [{"phone": "+14155550101", "name": "Ann Lee", "company": "Acme",
                             "timezone": "America/Los_Angeles", "context": {"Deal size": "10k"}}]


def test_semicolon_files_and_national_numbers_with_a_region() -> None:
    rows = read_rows(b"mobile;name\n(212) 555-0142;Dan\n", "leads.csv")
    assert parse_leads(rows, "US").leads[0]["phone"] == "+12125550142"
    problem = parse_leads(rows).problems[0]
    assert problem.startswith("row 2, column mobile: '(212) 555-0142' is not a phone number")
    assert "--region" in problem


def test_the_same_number_twice_is_one_lead_and_later_rows_fill_gaps() -> None:
    rows = [["phone", "name", "company", "notes"],
            ["+14155550101", "Ann", "", "first"],
            ["+1 415 555 0101", "", "Acme", "second"],
            ["", "", "", ""]]
    parsed = parse_leads(rows)
    assert parsed.duplicates == 1
    assert parsed.leads == [{"phone": "+14155550101", "name": "Ann", "company": "Acme",
                             "timezone": None, "context": {"notes": "first"}}]


def test_every_bad_row_is_reported_by_row_number_and_column() -> None:
    rows = [["Phone", "Name", "Timezone"],
            ["+14155550101", "Ann", ""],
            ["nope", "Bob", ""],
            ["+1415", "Cy", ""],
            ["+14155550104", "Dee", "Mars/Base"],
            ["", "Eve", ""]]
    problems = parse_leads(rows).problems
    assert problems == [
        "row 3, column Phone: 'nope' is not a phone number",
        "row 4, column Phone: '+1415' has the wrong number of digits for its country",
        "row 5, column Timezone: 'Mars/Base' is not an IANA time zone (e.g. America/New_York)",
        "row 6, column Phone: no phone number",
    ]


@pytest.mark.parametrize(("rows", "problem"), [
    ([], "row 1: no header row (need at least a phone column)"),
    ([["name", "company"], ["Ann", "Acme"]], "row 1: no phone column (headers: name, company)"),
    ([["phone"]], "no leads: the file has a header but no rows"),
])
def test_a_list_without_a_phone_column_or_rows_says_so(rows: list[list[str]], problem: str) -> None:
    assert parse_leads(rows).problems == [problem]


def test_an_xlsx_list_reads_like_a_csv_even_with_numbers_typed_as_numbers() -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["Phone", "Name"])
    ws.append([14155550101, "Ann"])
    buffer = io.BytesIO()
    wb.save(buffer)
    parsed = parse_leads(read_rows(buffer.getvalue(), "leads.xlsx"), "US")
    assert parsed.leads[0]["phone"] == "+14155550101"


def test_api_leads_follow_the_same_rules() -> None:
    assert validate_lead({"phone": "+14155550101", "context": {"size": 10}}, 0)[0] == {
        "phone": "+14155550101", "name": None, "company": None, "timezone": None,
        "context": {"size": "10"}}
    assert validate_lead("x", 3)[1] == ["leads[3]: must be an object with at least a phone"]
    assert validate_lead({"phone": {"$ne": None}}, 1)[1] == ["leads[1].phone: must be a string"]
    assert validate_lead({"phone": "+14155550101", "timezone": "Nowhere"}, 2)[1] == [
        "leads[2].timezone: 'Nowhere' is not an IANA time zone"]
