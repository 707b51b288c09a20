"""Incident replay: what the cluster's backends did, second by second, kept on disk.

`records` turns a snapshot into the sessions worth keeping and back; `encoding` packs a block
of ticks into a compact blob; `aggregate` counts sessions by key for load charts and rankings;
`store` keeps blocks, per-tick aggregates, rollups and gaps in SQLite behind a small interface;
`recorder` feeds the store from the sampler's ticks; `reading` answers the /history routes.
"""
