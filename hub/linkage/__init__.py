"""Identity linkage: which pseudonyms are spellings of one child.

Pure: :mod:`~hub.linkage.compare` scores two children's encodings field by field
(Fellegi–Sunter), :mod:`~hub.linkage.index` files the known children under blocking keys,
:mod:`~hub.linkage.decide` decides same child, possible match or new child. The encodings
themselves are computed by the connectors (:mod:`connectors.encodings`); their wire format
is :mod:`hub.contract.linkage`.
"""
