"""The core floor: what every command runs through.

* :mod:`~vermilion.core.config`: the directives (parse, validate, apply) and CONFIG's view of them;
* :mod:`~vermilion.core.client`: one connected client and its state;
* :mod:`~vermilion.core.table`: the declarative command table (spec.json) and key specs;
* :mod:`~vermilion.core.dispatch`: Redis's processCommand and call(), written once;
* :mod:`~vermilion.core.limits` and :mod:`~vermilion.core.memory`: output-buffer limits
  and memory accounting.

Modules here import only the floors below (``util``, ``protocol``, ``types``,
``keyspace``); features and command families register with them instead.
(:mod:`~vermilion.core.bootstrap`, the list of server-init hooks, is floor 1.)
"""
