"""``hub key new FILE``: a new pseudonymisation key file."""

from __future__ import annotations

from pathlib import Path

from hub.settings import write_new_key


def add_parser(sub) -> None:
    p = sub.add_parser("key", help="create a pseudonymisation key file",
                       description="Write a new random 256-bit linkage key to FILE (mode "
                       "0600). Keep it with the connectors, never in Kafka or a repository.")
    p.add_argument("action", choices=["new"])
    p.add_argument("file")
    p.add_argument("--force", action="store_true", help="replace an existing key file")
    p.set_defaults(func=cmd_key)


def cmd_key(args) -> int:
    path = Path(args.file)
    write_new_key(path, force=args.force)
    print(f"new pseudonymisation key written to {path} (mode 0600); set "
          f"HUB_PSEUDONYM_KEY_FILE={path}")
    return 0
