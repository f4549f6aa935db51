"""``hub deliver``: an agency's inbox delivered back to the agency, without Kafka clients there.

Two channels: CSV files in the agencies' German vocabulary written exactly once into a folder
(``--to-dir``), or one HTTP POST per event to the agency's receiver (``--webhook``).

Pure core: ``csvfile`` (rendering), ``batchfiles`` (file names, resume positions) and
``backoff`` (retry schedule). Thin edges: ``directory`` (the file system), ``webhook`` (HTTP),
``inbox`` (Kafka); ``loops`` ties them together and ``cli`` is the command. docs/delivery.md
describes the files and the webhook contract for agency IT staff.
"""
