"""Tools to run and test the sample shop locally: databases, service processes, tokens.

Used by the services' tests, the end-to-end tests, `loadtest.py` and `make samples-up`.
Never part of a service image.
"""
