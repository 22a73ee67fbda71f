"""Development tools: the local simulator, the fake Bot API, development keys.

Only the command line (``amanat run`` without a token) and the tests import this package;
the bot itself never does.
"""
