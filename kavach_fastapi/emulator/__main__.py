"""``python -m kavach_fastapi.emulator``: run the Atlassian emulator from a shell."""

from kavach_fastapi.emulator.cli import main

raise SystemExit(main())
