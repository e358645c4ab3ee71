"""Pure two-way sync decisions (ARCHITECTURE.md): plain values in, actions out; no I/O and no clock.

- rules.py: which Exchange events cross into Sundial and why not (SPEC I2-I4, C5), by rule id.
- notes.py: the marker line (C4, U3, E1) and HTML → plain text.
- shapes.py: the comparable content of each side and its hashes (three-way merge bookkeeping).
- actions.py: what a job may be asked to do.
- plan.py: stored link state + Sundial side + Exchange side → actions (E3, D1-D3, U1-U4), the mass-deletion guard.
"""
