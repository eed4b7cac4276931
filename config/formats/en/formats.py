"""Date formats for English pages, the admin's included: times with their time zone
and without seconds or microseconds ("2 Dec 2026, 18:40 UTC")."""

DATETIME_FORMAT = "j M Y, H:i T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
DATE_FORMAT = "j M Y"
SHORT_DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i"
