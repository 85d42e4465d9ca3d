"""`ingest` subcommands of the imports source (DESIGN.md §5)."""

COMMANDS: list = []
# (label, job name, run config) steps that `ingest demo` runs, in order.
DEMO_STEPS: list = []
