-- 0019: what the analytics last made of each channel (flow class, profitability, revenue rate).
--
-- Computed every cycle from the node's channels and the stored history, they were shown to
-- strategies and then lost: a report, which reads only the database, could not say which
-- channels are sinks or underwater. One row per channel, replaced by each cycle.
CREATE TABLE channel_analyses (
    channel_id    INTEGER PRIMARY KEY,
    at            INTEGER NOT NULL,
    analysis_json TEXT    NOT NULL
) STRICT;
