"""The event contract: Avro schemas in ``schemas/``, pydantic models, codec, compatibility.

Modules: :mod:`~hub.contract.vocabulary` (enums), :mod:`~hub.contract.models` (pydantic models),
:mod:`~hub.contract.schemas` (loading the ``.avsc`` files), :mod:`~hub.contract.codec` (bytes on
Kafka), :mod:`~hub.contract.compat` (checks against the releases in ``schemas/released/``) and
:mod:`~hub.contract.conformance` (models vs. schemas). Nothing here talks to Kafka.
"""
