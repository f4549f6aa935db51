"""``hub deploy k8s [--check] [--out DIR]``: the command and its options."""

from __future__ import annotations

import argparse
from pathlib import Path

from hub.deployment.k8s import COMMAND, OUT_DIR, drift, generate, load_inputs, write
from hub.paths import PROJECT_ROOT

DESCRIPTION = """\
Generate the Kubernetes manifests for running the hub on a Kafka cluster managed by the
Strimzi operator, from deploy/agencies.yaml, deploy/topics.yaml, the Kafka version of
deploy/kafka/pom.xml and the ACL model (who may read and write which topic):

  kafka.yaml          the Kafka cluster: 3 nodes (KRaft broker + controller), replication
                      factor 3, min.insync.replicas 2, TLS listener with SCRAM-SHA-512 logins
                      and ACL authorization
  topics.yaml         one KafkaTopic per topic of the hub (partitions, configs)
  users.yaml          one KafkaUser per principal: the workers, each agency, analysts and
                      operators, with their ACLs
  workers.yaml        the workers (hub run): Deployment, settings, autoscaler (at most one
                      worker per outbox partition) and the metrics Service for Prometheus
  kustomization.yaml  for `kubectl apply -k`

Run it again after changing an input (e.g. a new agency) and commit the result; files that
would not change are left alone. With --check nothing is written: exit code 1 and the list
of files that differ when the committed files are out of date (for CI). docs/deployment.md
describes the deployment.
"""

EPILOG = """\
examples:
  hub deploy k8s                       # (re)write deploy/k8s/
  hub deploy k8s --check               # in CI: are deploy/k8s/ files up to date?
  hub deploy k8s --out /tmp/manifests  # somewhere else
"""


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def add_parser(sub) -> None:
    p = sub.add_parser("deploy", help="generate the Kubernetes (Strimzi) manifests in "
                       "deploy/k8s/ from deploy/", description=DESCRIPTION, epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("target", choices=["k8s"],
                   help="what to generate: k8s = Kubernetes manifests for Strimzi")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit code 1 and the differing files when the files "
                   "in the folder are not what would be generated")
    p.add_argument("--out", type=Path, default=OUT_DIR, metavar="DIR",
                   help="the folder of the manifests (default deploy/k8s/)")
    p.set_defaults(func=cmd_deploy)


def cmd_deploy(args) -> int:
    files = generate(load_inputs())
    folder = _shown(args.out)
    if args.check:
        differ = drift(files, args.out)
        if not differ:
            print(f"{folder}: all {len(files)} files up to date")
            return 0
        for name in differ:
            print(f"differs: {folder}/{name}")
        print(f"{folder} is out of date ({len(differ)} of {len(files)} files): run "
              f"`{COMMAND}` and commit the result")
        return 1
    changed = write(files, args.out)
    for name in files:
        print(f"{'written ' if name in changed else 'unchanged'} {folder}/{name}")
    return 0
