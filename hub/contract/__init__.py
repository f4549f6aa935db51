"""The event contract: Avro schemas in ``schemas/``, pydantic models, codec, compatibility.

Modules: :mod:`~hub.contract.vocabulary` (enums), :mod:`~hub.contract.models` (pydantic models),
:mod:`~hub.contract.schemas` (loading the ``.avsc`` files), :mod:`~hub.contract.codec` (bytes on
Kafka), :mod:`~hub.contract.compat` (can one schema read the data of another),
:mod:`~hub.contract.history` (checks against the releases in ``schemas/released/``),
:mod:`~hub.contract.notes` (their ``CHANGES.md``), :mod:`~hub.contract.release` (the next
release) and :mod:`~hub.contract.conformance` (models vs. schemas). Nothing here talks to Kafka.
"""
