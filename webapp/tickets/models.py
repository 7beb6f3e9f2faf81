from __future__ import annotations

import datetime as dt

from sqlalchemy import Date
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db


class ProtocolCounter(db.Model):
    """The last sequence number handed out on a local day: protocol numbers are YYYYMMDD + the day's sequence."""

    __tablename__ = "protocol_counters"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    last_seq: Mapped[int] = mapped_column(default=0)
