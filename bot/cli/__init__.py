"""The ``amanat`` command tree: one module per command group, ``main`` wires them."""
