"""The click commands, one module per verb; part of the CLI edge (parse, wire, call, report)."""
