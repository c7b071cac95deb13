"""Sources: a shop's data onto the data contract (`ml.schema`).

Adapters (`online_retail`, `rees46`, `files`) map a source's columns, `contract` validates and
quarantines, `load` is the one entry point from a source name; `stream` reads the service's
events. The built-in synthetic store and the simulated next days are generated in `ml.synthetic`
(the one home of data generators).
"""
