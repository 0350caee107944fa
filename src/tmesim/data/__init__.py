"""Shipped model data that several floors read (the therapy catalog: ``therapies.yaml`` and
``therapy_rules.csv``), located with :func:`tmesim._resources.data_path`; no code."""
