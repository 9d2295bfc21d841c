"""Request hygiene every room relies on: no input reaches PostgreSQL or Python unchecked.

* :mod:`~surveys.security.inputs` — bounded JSON (size, depth, 64-bit numbers, no
  NaN) and text without NUL, control characters or lone surrogates;
* :mod:`~surveys.security.middleware` — refuses such characters in the path, query
  string, form body and cookies before any view runs; adds Permissions-Policy;
* :mod:`~surveys.security.dates` — date and date-time fields, filters and parsing
  bounded to years 1900–2100, so no date anywhere can overflow;
* :mod:`~surveys.security.drf` — the API's JSON parser (the same bounds);
* :mod:`~surveys.security.client` — the client's address behind a trusted proxy.

Spreadsheet formula escaping of CSV files is :mod:`scoring.csvsafe` (pure Python,
shared with the scoring command line).

A base module: it imports Django, DRF and django-filter, nothing of the project.
"""
