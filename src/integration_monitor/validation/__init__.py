"""Great Expectations validation of presence tables, and the suites it runs.

Importing this package does not import Great Expectations or pandas: both are imported inside
the functions that use them, so DAG files can refer to it at parse time.
"""
