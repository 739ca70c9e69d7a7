"""Operator tools, outside the core: the ``yibao`` console script (``cli``), running the
processes (``supervise``), the traffic simulator (``simulate``) and the monitoring models'
evaluation on a synthetic year (``monitoring``).

They use the core (``yibao``) like any other client; the core never imports them, and they
never import the services (``api``, ``settlement``, ``monitor``), whose processes they start.
"""
