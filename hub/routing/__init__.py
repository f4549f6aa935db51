"""Routing: who receives an event (pure rules in ``rules``, the Faust agent in ``agent``)."""
