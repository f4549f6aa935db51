"""The commands of ``hub``, one module each: ``add_parser(sub)`` registers the command's
options and help on the ``hub`` parser (hub.cli), ``cmd_<command>(args)`` carries it out.

A command imports what it drives inside ``cmd_<command>``, so that ``hub --help`` and the
quick commands do not load Faust, the broker tooling or the report (docs/design.md,
"Imports inside functions").
"""
