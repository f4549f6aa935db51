"""The audit record's format (JSON on hub.audit, not Avro): its JSON Schema and its
changelog match what the hub writes."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from hub.audit import AUDIT_VERSION, audit_record
from hub.core.reasons import AuditDecision, NoteKind, ReasonKind
from hub.paths import PROJECT_ROOT
from tests.hub.test_engine_reasons import event

AUDIT_DIR = PROJECT_ROOT / "schemas" / "audit"
SCHEMA = json.loads((AUDIT_DIR / "record.schema.json").read_text(encoding="utf-8"))


def test_the_schema_lists_every_decision_and_reason_kind():
    properties = SCHEMA["properties"]
    assert properties["decision"]["enum"] == [d.value for d in AuditDecision]
    assert set(properties["reason_kind"]["enum"]) == \
        {None} | {k.value for k in ReasonKind} | {k.value for k in NoteKind}


def test_the_schema_names_every_field_the_hub_writes():
    record = audit_record(event(), AuditDecision.DELIVERED, datetime(2026, 11, 24, tzinfo=UTC))
    assert set(record) | {"requested_by"} == set(SCHEMA["properties"])
    assert set(SCHEMA["required"]) <= set(record)
    assert record["audit_version"] == AUDIT_VERSION


def test_the_changelog_has_a_section_per_format_up_to_the_current_one():
    text = (AUDIT_DIR / "CHANGES.md").read_text(encoding="utf-8")
    sections = [int(n) for n in re.findall(r"^## (\d+)$", text, re.M)]
    assert sections == list(range(1, AUDIT_VERSION + 1))


def test_an_audit_id_is_the_uuid5_of_its_decision_in_the_audit_namespace():
    import uuid

    from hub.audit import AUDIT_NAMESPACE, audit_id
    for name in ("evt-1|grundschule|delivered|", "evt-2|None|refused|kein Einverständnis", ""):
        assert audit_id(name) == str(uuid.uuid5(AUDIT_NAMESPACE, name))
    record = audit_record(event(), AuditDecision.DELIVERED, datetime(2026, 11, 24, tzinfo=UTC),
                          "grundschule-kamen-mitte")
    assert record["audit_id"] == str(uuid.uuid5(
        AUDIT_NAMESPACE, f"{record['event_id']}|grundschule-kamen-mitte|delivered|"))


def test_a_record_is_written_as_compact_utf8_json_with_sorted_keys():
    from hub.audit import encode_audit

    record = audit_record(event(), AuditDecision.DELIVERED, datetime(2026, 11, 24, tzinfo=UTC),
                          reason="Übergabe an Jugendamt Lünen")
    data = encode_audit(record)
    assert json.loads(data) == record
    assert "Lünen".encode() in data
    assert data == json.dumps(record, ensure_ascii=False, sort_keys=True,
                              separators=(",", ":")).encode()
    huge = {**record, "reason_params": {"n": 2 ** 70}}  # beyond orjson: the same bytes still
    assert encode_audit(huge) == json.dumps(huge, ensure_ascii=False, sort_keys=True,
                                            separators=(",", ":")).encode()
