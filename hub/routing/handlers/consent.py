"""A consent granted or withdrawn (pure): recorded in the consent ledger (its topic, and the
family's state), a ``consent.revoked`` notice to each agency that received events under a
withdrawn consent, and the family's held events decided again with what it changed."""

from __future__ import annotations

from dataclasses import replace

from hub.audit import DELIVERED
from hub.consent.ledger import ConsentState, ledger_key, merge
from hub.core.reasons import NoteKind
from hub.core.topics import CONSENT_TOPIC
from hub.routing.deciding import carry_out, context, reconsider
from hub.routing.messages import ConsentEvent, Output
from hub.routing.notices import REVOCATION_NOTICE, revocation_notice
from hub.routing.outputs import audit, dead_letter, deliver
from hub.routing.services import Services
from hub.routing.state import RouterStores


def handle_consent(event: ConsentEvent, stores: RouterStores,
                   services: Services) -> list[Output]:
    envelope, message = event.envelope, event.message
    ctx = context(envelope, stores, services)
    decision = services.router.decide(envelope, message.topic, ctx)
    if decision.rejected:
        return [dead_letter(services, message, decision.rejected, "source_mismatch")]
    # a consent goes to no inbox (not routed), whatever the family's consents are
    states = {s.consent_id: s for s in ctx.consents}
    new = ConsentState.from_envelope(envelope)
    merged = merge(states, new)
    out = [Output(CONSENT_TOPIC, ledger_key(envelope.subject, new.consent_id), message.value,
                  type=envelope.type.value)]
    changed = merged != states  # a re-import changes nothing: no changelog write
    if changed:
        stores.consents.store(envelope.subject, new)
        before = states.get(new.consent_id)
        if merged[new.consent_id] is new and new.revoked_at is not None and \
                (before is None or before.revoked_at is None):
            out += revocation_notices(envelope, new, stores, services)
        ctx = replace(ctx, consents=list(merged.values()))
    out += carry_out(envelope, message.value, decision, stores, services)
    if changed:  # what held events of the family wait for may be known now
        out += reconsider(envelope.subject, stores, services, skip_id=envelope.id,
                          consents=ctx.consents)
    return out


def revocation_notices(revocation, state: ConsentState, stores: RouterStores,
                       services: Services) -> list[Output]:
    """A ``consent.revoked`` notice to each agency that received events of the child under
    the withdrawn consent (but the one that withdrew it). Delivered whatever the consents
    say (it is about the consent itself), once, and audited."""
    now = services.clock.now()
    served = stores.served.of(revocation.subject).get(state.consent_id) or []
    out = []
    for recipient in served:
        if recipient == revocation.source or services.agencies.get(recipient) is None:
            continue
        notice = revocation_notice(revocation, state, recipient)
        if stores.delivered.has(recipient, notice.id, now):
            continue
        out.append(deliver(services, stores.delivered, recipient, notice,
                           services.codec.encode(notice), now))
        out.append(audit(services, notice, DELIVERED, now, recipient, REVOCATION_NOTICE,
                         NoteKind.REVOCATION_NOTICE, consent_id=state.consent_id))
    return out
