"""``hub linkage pending | confirm | reject | unlink``: the trust office decides the possible
matches of the linkage stage (docs/linkage.md, "The trust office").

Only pseudonyms, scores and field names are shown: the hub holds no names, and the
encodings on ``hub.linkage`` are never read here."""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime

from hub.errors import HubError, InputError
from hub.settings import load_settings

PSEUDONYM = re.compile(r"[0-9a-f]{64}")
DONE_HINT = ("it stays on hub.linkage.reviews and is carried out when a worker runs "
             "(`hub linkage pending` and `hub audit --subject {p}` show it then)")
EPILOG = ("Exit status: 0 carried out, 1 an error (nothing sent, or the linkage stage "
          "refused it), 2 sent but no worker carried it out within --wait.")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "linkage", help="the trust office: list and decide possible matches of one child",
        description="The linkage stage tells when two pseudonyms are one child written "
        "differently (docs/linkage.md). When it is not sure it decides a possible match: "
        "the new pseudonym's events wait until the trust office decides here. Every "
        "decision is audited with your login (`hub audit --subject PSEUDONYM`). Only "
        "pseudonyms are shown: find a family's with `hub pseudonym`.")
    commands = p.add_subparsers(dest="linkage_command", required=True, metavar="ACTION")
    pending = commands.add_parser(
        "pending", help="list the possible matches waiting for a decision",
        description="List the possible matches waiting for the trust office, oldest first: "
        "the new pseudonym, the known child's pseudonym (candidate) it may be, the score, "
        "which fields agree (given, family, birth_date; :similar, :phonetic, :part, "
        ":swapped ... for a partial agreement), since when and why it is not linked "
        "automatically. Compare the two in the agencies' files, then run `hub linkage "
        "confirm` or `hub linkage reject`.")
    pending.add_argument("--json", action="store_true",
                         help="one JSON object per line (pseudonym, candidate, score, "
                         "fields, at, why) instead of a table")
    pending.set_defaults(func=cmd_pending)
    for action, short, text in (
            ("confirm", "confirm: the new pseudonym is the known child",
             "PSEUDONYM is the child CANDIDATE: the hub treats its events as that child's "
             "from now on. No prompt: `hub linkage unlink` undoes it."),
            ("reject", "reject: the new pseudonym is another child",
             "PSEUDONYM is not the child CANDIDATE: it stays a child of its own, and the "
             "pair is never proposed again. No prompt: a later confirm of the pair decides "
             "otherwise.")):
        q = commands.add_parser(action, help=short, epilog=EPILOG,
                                description=f"{text} Checks that the hub has seen both "
                                "pseudonyms, sends the decision to hub.linkage.reviews and "
                                "waits until a worker carried it out.")
        q.add_argument("pseudonym", metavar="PSEUDONYM", help="the new pseudonym "
                       "(`pseudonym` of `hub linkage pending`)")
        q.add_argument("candidate", metavar="CANDIDATE", help="the known child's pseudonym "
                       "(`candidate` of `hub linkage pending`)")
        _wait_options(q)
        q.set_defaults(func=cmd_review, action=action)
    unlink = commands.add_parser(
        "unlink", help="undo a link of a pseudonym to another child",
        description="Undo the link of PSEUDONYM to the child it was linked to (by the "
        "linkage stage or a confirm): from now on it is a child of its own, and the pair "
        "is never proposed again. What was routed before stays routed: the command lists "
        "what the hub decided for the child while the link stood, for the trust office to "
        "tell the agencies concerned.", epilog=EPILOG)
    unlink.add_argument("pseudonym", metavar="PSEUDONYM", help="the linked pseudonym")
    _wait_options(unlink)
    unlink.add_argument("--timeout", type=float, default=3.0, metavar="S",
                        help="stop reading hub.audit after S seconds without a record "
                        "(default 3)")
    unlink.set_defaults(func=cmd_unlink)


def _wait_options(p) -> None:
    p.add_argument("--wait", type=float, default=60.0, metavar="S",
                   help="seconds to wait for a worker to carry it out (default 60)")
    p.add_argument("--no-wait", action="store_true",
                   help="send the decision and return; `hub linkage pending` and `hub "
                   "audit` show when it was carried out")


# ------------------------------------------------------------------ checks (pure)
def check_pseudonym(value: str, what: str = "PSEUDONYM") -> str:
    """``value`` if it is a pseudonym (64 lowercase hex digits), else an InputError."""
    if not PSEUDONYM.fullmatch(value or ""):
        raise InputError(f"{what} {value!r} is no pseudonym: a pseudonym is 64 lowercase "
                         "hex digits (what `hub pseudonym` and `hub linkage pending` print)")
    return value


def check_pair(pseudonym: str, candidate: str) -> tuple[str, str]:
    check_pseudonym(pseudonym)
    check_pseudonym(candidate, "CANDIDATE")
    if pseudonym == candidate:
        raise InputError("PSEUDONYM and CANDIDATE are the same: name the new pseudonym and "
                         "the known child it may be")
    return pseudonym, candidate


def check_review(action: str, pseudonym: str, candidate: str, decisions: dict) -> None:
    """A confirm or reject the stage can carry out: both pseudonyms known to it, and not
    a pseudonym linked elsewhere (that is undone with unlink)."""
    decision = decisions.get(pseudonym)
    if decision is None:
        raise HubError(f"the hub has not seen {pseudonym}: hub.linkage.decisions has no "
                       "decision about it (its agency's export has not been read yet, or "
                       "the pseudonym is mistyped)")
    known = decisions.get(candidate)
    if known is None:
        raise HubError(f"the hub has not seen {candidate}: hub.linkage.decisions has no "
                       "decision about it")
    child = known.child
    if action == "confirm" and decision.child == child:
        raise HubError(f"{pseudonym} is that child already: nothing to confirm")
    linked = decision.outcome.value == "same_child" and decision.child != pseudonym
    if action == "reject" and linked and decision.child != child:
        raise HubError(f"{pseudonym} is linked to another child ({decision.child}): undo "
                       f"that with `hub linkage unlink {pseudonym}`")


def linked_child(pseudonym: str, decisions: dict) -> tuple[str, datetime]:
    """The child ``pseudonym`` is linked to, and since when; HubError when it is not."""
    decision = decisions.get(pseudonym)
    if decision is None:
        raise HubError(f"the hub has not seen {pseudonym}: hub.linkage.decisions has no "
                       "decision about it")
    if decision.outcome.value != "same_child" or decision.child == pseudonym:
        raise HubError(f"{pseudonym} is not linked to another child (it is "
                       f"{decision.outcome.value.replace('_', ' ')}): nothing to unlink")
    return decision.child, decision.at


# ------------------------------------------------------------------ output (pure)
def pending_rows(decisions: dict) -> list:
    """The possible matches, oldest first."""
    waiting = [d for d in decisions.values() if d.outcome.value == "possible_match"]
    return sorted(waiting, key=lambda d: (d.at, d.pseudonym))


def pending_json(decision) -> str:
    return json.dumps({"pseudonym": decision.pseudonym, "candidate": decision.candidate,
                       "score": decision.score, "fields": list(decision.fields),
                       "at": decision.at.isoformat(), "why": decision.why},
                      sort_keys=True)


def pending_table(rows: list) -> list[str]:
    lines = []
    for d in rows:
        score = "-" if d.score is None else f"{d.score:.2f}"
        lines += [f"since {d.at.isoformat()[:19]}  score {score}  agreeing: "
                  f"{', '.join(d.fields) or 'none'}",
                  f"  pseudonym  {d.pseudonym}",
                  f"  candidate  {d.candidate or '-'}",
                  f"  why        {d.why or '-'}", ""]
    n = len(rows)
    lines.append("no possible match waiting" if n == 0 else
                 f"{n} possible match{'es' if n != 1 else ''} waiting")
    return lines


def outcome_text(decision) -> str:
    """What the stage decided, for the operator."""
    if decision.review is not None and decision.review.value == "confirm":
        return f"linked: {decision.pseudonym} is now the child {decision.child}"
    if decision.review is not None and decision.review.value == "reject":
        return (f"rejected: {decision.pseudonym} stays a child of its own; the pair is "
                "never proposed again")
    return (f"unlinked: {decision.pseudonym} is a child of its own from now on; the pair "
            "is never proposed again")


def routed_lines(records: list[dict], since: datetime, until: datetime) -> list[str]:
    """The child's audit records decided while the link stood (``since`` .. ``until``)."""
    from hub.operator_views import format_history

    stood = [r for r in records
             if since <= datetime.fromisoformat(r["time"]) <= until
             and r.get("decision") != "linkage"]
    return format_history(stood)


# ------------------------------------------------------------------ commands
def cmd_pending(args) -> int:
    from hub.operator_views import linkage_decisions

    rows = pending_rows(linkage_decisions(load_settings().kafka))
    if args.json:
        for decision in rows:
            print(pending_json(decision))
    else:
        print("\n".join(pending_table(rows)))
    return 0


def cmd_review(args) -> int:
    from hub.operator_views import linkage_decisions

    pseudonym, candidate = check_pair(args.pseudonym, args.candidate)
    settings = load_settings()
    check_review(args.action, pseudonym, candidate, linkage_decisions(settings.kafka))
    return _send(args, settings, args.action, pseudonym, candidate)


def cmd_unlink(args) -> int:
    from hub.operator_views import family_history, linkage_decisions

    pseudonym = check_pseudonym(args.pseudonym)
    settings = load_settings()
    child, since = linked_child(pseudonym, linkage_decisions(settings.kafka))
    status = _send(args, settings, "unlink", pseudonym, child)
    if status == 1:
        return status
    from hub.clock import clock_from_settings

    until = clock_from_settings(settings).now()
    lines = routed_lines(family_history(settings.kafka, child, timeout=args.timeout),
                         since, until)
    print(f"events decided for the child {child} since the link ({since.isoformat()[:19]}"
          f"): the audit does not tell which of them came under {pseudonym}")
    print("\n".join(lines) if lines else "none")
    return status


def _send(args, settings, action: str, pseudonym: str, candidate: str) -> int:
    from hub.clock import clock_from_settings
    from hub.commands.erase import _login_name
    from hub.linkage.records import Action, Review
    from hub.operator_views import send_review

    by = _login_name()
    if by is None:
        raise HubError("cannot tell your login name: every trust office decision is "
                       "audited with the operator's login (set LOGNAME or USER)")
    review = Review(Action(action), pseudonym, candidate, by,
                    clock_from_settings(settings).now())
    answer = send_review(settings.kafka, review, None if args.no_wait else args.wait)
    if args.no_wait:
        print(f"{action} of {pseudonym} sent; {DONE_HINT.format(p=pseudonym)}")
        return 0
    if answer is None:
        print(f"no worker carried out the {action} of {pseudonym} within {args.wait:.0f} s; "
              f"{DONE_HINT.format(p=pseudonym)}", file=sys.stderr)
        return 2
    if answer.refusal is not None:
        raise HubError(f"the linkage stage refused the {action}: {answer.refusal}")
    print(outcome_text(answer.decision))
    return 0
