"""``kavach privacy report``: Atlassian's personal-data reporting, for cron.

Progress goes to the output as the run goes (to stderr with ``--json``, whose stdout is the one
JSON document of the result, with counts rather than account ids, so that an erased person's id
does not end up in a cron log). Exit status: ``0`` when every due account was reported, ``1``
when a long ``429`` (or a failing ``on_account_closed``) left some for the next run, ``2`` for
an error, said in one line.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from ..personal_data import report_personal_data
from ..privacy import PersonalDataReport, ReportProgress


async def run_report(args: argparse.Namespace, out: TextIO) -> int:
    progress_out = sys.stderr if args.json else out

    def show(progress: ReportProgress) -> None:
        line = (
            f"  reported {progress.reported}/{progress.due} accounts "
            f"({progress.closed} closed, {progress.updated} updated)"
        )
        if progress.waiting is not None:
            line += f"; Atlassian asks to wait {progress.waiting:g} s"
        print(line, file=progress_out, flush=True)

    options = {"database_url": args.database_url} if args.database_url else {}
    report = await report_personal_data(
        as_user=args.as_user,
        on_progress=show,
        max_wait=args.max_wait,
        **options,
    )
    if args.json:
        print(json.dumps(_counted(report), sort_keys=True), file=out)
    else:
        print(_summary(report), file=out)
    return 0 if report.complete and not report.hook_failures else 1


def _counted(report: PersonalDataReport) -> dict[str, Any]:
    """The result with counts for its lists: an erased person's account id stays out of logs."""
    values = report.as_dict()
    for name in ("closed", "updated", "hook_failures"):
        values[name] = len(values[name])
    return values


def _summary(report: PersonalDataReport) -> str:
    if report.due == 0:
        return "Nothing to report: every stored account was reported within its cycle."
    lines = [
        f"Reported {report.reported} of {report.due} accounts in {report.calls} calls: "
        f"{len(report.closed)} closed (erased), {len(report.updated)} updated "
        f"({report.reread} read again now, the rest at their next sign-in or token use)."
    ]
    if report.cycle_period:
        lines.append(f"Atlassian's reporting cycle: {report.cycle_period}.")
    if not report.complete:
        lines.append(
            f"Stopped: Atlassian asks to wait {report.retry_after:g} s (more than --max-wait). "
            "Run again later; it resumes where it stopped."
        )
    if report.hook_failures:
        lines.append(
            f"{len(report.hook_failures)} closed accounts were kept: on_account_closed failed "
            "(see the log); they are asked about again at the next run."
        )
    return "\n".join(lines)
