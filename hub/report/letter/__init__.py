"""The family's access letter (Art. 15 GDPR) as one printable, self-contained HTML file
(pure: audit records, consent states and the agency list in, German HTML out).

``hub audit --subject PSEUDONYM --letter --out auskunft.html`` writes it for the trust
office, which hands it to the family: which agency received which kind of event when,
under which consent and purpose; what was refused or held and why (in plain German, the
hub's internal reason text only where no German sentence is known for it); which consents
are in force and which were revoked or ended; and what an erasure request would do.

It shows the pseudonym once and consent ids (they are on the family's consent forms), but
no event ids, audit ids, offsets or partitions, and nothing of another child: records of
another subject are dropped. Styles are inline, there is no script and nothing is loaded
from the network; a print stylesheet lays it out on A4, readable in black and white.

The parts:

- :mod:`~hub.report.letter.page`: the HTML page and its sections (:func:`build_letter`);
- :mod:`~hub.report.letter.rows`: the child's audit records as rows, the consents' state;
- :mod:`~hub.report.letter.sentences`: each decision and reason kind as a German sentence,
  from the typed fields of the audit record (``reason_kind``, ``reason_params``);
- :mod:`~hub.report.letter.legacy`: the English reason text of records written before the
  reasons were typed (audit format 1), read back into kinds; used for those records only;
- :mod:`~hub.report.letter.formats`: times, dates, days and purposes in German;
- :mod:`~hub.report.letter.retention`: how long the topics keep what the letter names.
"""

from hub.report.letter.formats import LOCAL_TIME, when
from hub.report.letter.legacy import explain
from hub.report.letter.page import EMPTY, TITLE, build_letter
from hub.report.letter.retention import Retention
from hub.report.letter.sentences import Reason

__all__ = ["EMPTY", "LOCAL_TIME", "TITLE", "Reason", "Retention", "build_letter", "explain",
           "when"]
