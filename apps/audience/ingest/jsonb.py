"""A batch goes to PostgreSQL as ONE jsonb parameter read by jsonb_to_recordset, instead of
thousands of adapted ones; dates and datetimes are written in ISO form."""

from datetime import date, datetime
from typing import Any


def json_default(value: Any) -> str:
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)
