"""Peer reports' call quality: raw `peer.stats` samples in, the report's `quality` object out.

The pure modules do the thinking: `mos` (E-model score), `intervals` (cumulative counters →
per-interval figures), `distributions` (section cumulatives), `report` (the whole object).
"""
