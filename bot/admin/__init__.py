"""What admins do with reports on their own machine: read, export, re-key.

Everything here runs with an admin's private key, never on the server.
"""
