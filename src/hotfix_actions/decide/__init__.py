"""Pure decisions: values in, frozen decisions out. No I/O, no clock, no environment."""
