"""The keywords of a reporting run are typed once (``ReportOptions``) and cannot drift apart."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from kavach_fastapi import report_personal_data
from kavach_fastapi.privacy import PersonalDataReporter, ReportOptions


def keywords_of(function: Callable[..., Any]) -> set[str]:
    parameters = inspect.signature(function).parameters.values()
    return {p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}


def test_the_report_options_are_the_keywords_of_a_reporting_run() -> None:
    assert set(ReportOptions.__annotations__) == keywords_of(PersonalDataReporter.report)


def test_report_personal_data_takes_every_report_option() -> None:
    assert set(ReportOptions.__annotations__) <= keywords_of(report_personal_data)
