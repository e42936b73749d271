"""The status store: history of database checks, service verdicts and incidents."""
