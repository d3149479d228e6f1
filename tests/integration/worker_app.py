"""The served app of the multi-process tests; it lives in ``tests.support.apps`` now.

Kept so that ``tests.integration.worker_app:create_app`` still names it (and ``PREFIX``,
``PID_HEADER`` still import from here).
"""

from __future__ import annotations

from ..support.apps import PID_HEADER, PREFIX, create_app

__all__ = ["PID_HEADER", "PREFIX", "create_app"]
