"""One module per verb: read state through ports, ask decide/, act, report."""
