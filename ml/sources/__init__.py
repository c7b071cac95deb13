"""Sources: a shop's data onto the data contract (`ml.schema`).

Adapters (`online_retail`, `rees46`, `files`) map a source's columns, `contract` validates and
quarantines, `load` is the one entry point from a source name. `synthetic` is the built-in store
with a hidden truth (demos, known-answer tests); `simulated_days` continues a stored shop by some
days, with or without a shift in behaviour (the drift demo and benchmark).
"""
