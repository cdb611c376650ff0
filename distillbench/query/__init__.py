"""Detectors that bring their own probes: a metered query interface to the models of their pair.

`requests` (what may be asked, per track), `client` (the detector's side), `harness` (the benchmark's side: checks,
budget, cache, answers), `meter` (measured cost and budget tiers), `backends` / `remote` (models that answer).
"""
