"""Stub national-database endpoints that behave like the real ones, faults included.

``integration-monitor stubs serve`` starts them; ``docs/stubs.md`` describes the HTTP API,
the scenarios and the signatures.
"""
