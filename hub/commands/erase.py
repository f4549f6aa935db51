"""``hub erase --subject S --reference R``: erase a child on request (Art. 17 DSGVO)."""

from __future__ import annotations

import sys

from hub.errors import InputError
from hub.settings import load_settings


def add_parser(sub) -> None:
    p = sub.add_parser("erase", help="erase a child on request (Art. 17 DSGVO)",
                       description="Erase a child on the family's request (through the "
                       "trust office): the router forgets the child's consents, held events "
                       "(audited as erased), handovers and delivered ids, and the analytics "
                       "replace its pseudonym (the cells already published stay as they "
                       "are). Every agency that received an event of the child gets a "
                       "subject.erased notice with the pseudonym and the reference, so that "
                       "its own system erases too. Later events about the child are treated "
                       "as new. Records in the outboxes, inboxes, audit and dead letters go "
                       "by their retention (docs/privacy.md). Waits until a worker carried "
                       "the request out and prints what was erased.")
    p.add_argument("--subject", required=True, help="the child's pseudonym (hub pseudonym)")
    p.add_argument("--reference", required=True,
                   help="case number of the erasure request (Aktenzeichen), kept in the "
                   "audit and sent with the notices, e.g. VS-2026/0042")
    p.add_argument("--yes", action="store_true",
                   help="do not ask for confirmation (needed when not run in a terminal)")
    p.add_argument("--wait", type=float, default=120.0, metavar="S",
                   help="seconds to wait for a worker to carry it out (default 120)")
    p.add_argument("--no-wait", action="store_true",
                   help="send the request and return; the audit shows when it was done")
    p.epilog = ("Exit status: 0 erased, 1 an error (nothing sent), 2 sent but no worker "
                "carried it out within --wait.")
    p.set_defaults(func=cmd_erase)


def cmd_erase(args) -> int:
    from hub.clock import clock_from_settings
    from hub.operator_views import child_pseudonyms, request_erasure
    from hub.routing.erasure import ErasureRequest

    settings = load_settings()
    now, login = clock_from_settings(settings).now(), _login_name()
    try:
        request = ErasureRequest.new(args.subject, args.reference, now, login)
    except ValueError as exc:
        raise InputError(f"cannot erase: {exc}") from None
    print(f"Erasure of {request.subject} (reference {request.reference}): the hub forgets "
          "the child's consents, held events, handovers and analytics pseudonym, and tells "
          "every agency that received an event of the child. This cannot be undone.")
    if not args.yes and not sys.stdin.isatty():  # no one to ask: refused before the broker
        raise InputError("nothing was sent: confirm the erasure with --yes")
    # the whole child: every pseudonym the linkage stage linked to it
    others = [ErasureRequest.new(p, args.reference, now, login)
              for p in child_pseudonyms(settings.kafka, args.subject)[1:]]
    if others:
        print(f"The child is known under {len(others)} more pseudonym(s), linked as the same "
              f"child; each is erased too: {', '.join(r.subject for r in others)}")
    if not args.yes:
        if input("Type ERASE to go on: ").strip() != "ERASE":
            print("nothing was sent")
            return 1
    for other in others:
        request_erasure(settings.kafka, other, None)  # carried out beside the first
    audit = request_erasure(settings.kafka, request, None if args.no_wait else args.wait,
                            progress=print)
    if args.no_wait:
        print(f"request {request.id} sent; `hub audit --subject {request.subject}` shows "
              "the erasure once a worker carried it out")
        return 0
    if audit is None:
        print(f"no worker carried out request {request.id} within {args.wait:.0f} s; it "
              "stays on hub.requests and is carried out when a worker runs (see `hub audit "
              f"--subject {request.subject}`)", file=sys.stderr)
        return 2
    print(f"done: {audit['reason']}")
    return 0


def _login_name() -> str | None:
    """The operator's login name for the audit; None when it is unknown or odd."""
    import getpass

    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        return None
    return name if name and name.isprintable() and " " not in name else None
