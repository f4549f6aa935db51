"""``hub pseudonym GIVEN FAMILY BIRTH``: the pseudonym of a child."""

from __future__ import annotations

from hub.errors import HubError
from hub.settings import load_settings


def add_parser(sub) -> None:
    p = sub.add_parser("pseudonym", help="the pseudonym of a child (needs the key)",
                       description="Compute the subject pseudonym from given name, family "
                       "name and birth date with the key in HUB_PSEUDONYM_KEY_FILE, e.g. for "
                       "the trust office answering a family's request. Nothing is sent.")
    p.add_argument("given_name")
    p.add_argument("family_name")
    p.add_argument("birth_date", help="TT.MM.JJJJ")
    p.set_defaults(func=cmd_pseudonym)


def cmd_pseudonym(args) -> int:
    from connectors.pseudonym import pseudonym
    from connectors.rows import parse_date

    birth = parse_date(args.birth_date)
    if birth is None:
        raise HubError(f"{args.birth_date!r} is not a date (TT.MM.JJJJ)")
    key = load_settings().pseudonym_key
    print(pseudonym(key, args.given_name, args.family_name, birth))
    return 0
