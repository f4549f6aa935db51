"""One handler per kind of input of the router, each pure: it takes the input, the stores
(:class:`~hub.routing.state.RouterStores`) and the services
(:class:`~hub.routing.services.Services`), changes the stores and returns its outputs. No
handler calls another or its caller; the shared steps are in :mod:`hub.routing.deciding`
and :mod:`hub.routing.outputs`. :mod:`hub.routing.bus` dispatches by input kind.

- :mod:`~hub.routing.handlers.outbox`: an outbox record read (dead letters moved on);
- :mod:`~hub.routing.handlers.event`: an agency's event;
- :mod:`~hub.routing.handlers.consent`: a consent granted or withdrawn;
- :mod:`~hub.routing.handlers.tick`: time passed on a partition (held events, stalls);
- :mod:`~hub.routing.handlers.erasure`: an erasure request.
"""
