"""Out-of-band notices after every change, and the "This wasn't me" report.

``service`` holds the workflow (:class:`ChangeNotices`), ``links`` the signed links,
``ports`` what it needs from outside (a ``Mailer``, the chat), ``smtp`` the mailer.
"""

from actions.notices.links import BadLink, ChangeClaim, LinkSigner, derive_key
from actions.notices.ports import DirectMessages, Mailer, NoticeChat, SecurityChannel
from actions.notices.service import (
    NOTICE_ACTION,
    REPORT_ACTION,
    REPORT_PATH,
    Change,
    ChangeNotices,
    ReportPage,
    ReportResult,
)

__all__ = [
    "NOTICE_ACTION",
    "REPORT_ACTION",
    "REPORT_PATH",
    "BadLink",
    "Change",
    "ChangeClaim",
    "ChangeNotices",
    "DirectMessages",
    "LinkSigner",
    "Mailer",
    "NoticeChat",
    "ReportPage",
    "ReportResult",
    "SecurityChannel",
    "derive_key",
]
