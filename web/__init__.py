"""The outer layer: the Flask app factory, the integrators' API, the staff console, the CLI.

It holds no business rules; it translates HTTP and command lines into engine commands.
"""
