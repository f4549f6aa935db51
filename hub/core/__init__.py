"""What every part of the hub shares, below all of them: the routing decision and its
reason kinds (:mod:`hub.core.decisions`, :mod:`hub.core.reasons`) and the topic names and
tests (:mod:`hub.core.topics`). Pure, no imports from the rest of the hub."""
