"""``python -m kavach_fastapi.cli``: the ``kavach`` command."""

from . import main

raise SystemExit(main())
