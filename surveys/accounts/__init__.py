"""Who may do what, and logging in: roles, the optional second factor, the home page.

* :mod:`~surveys.accounts.roles` — roles are Django groups; which sites each one sees;
* :mod:`~surveys.accounts.two_factor` — who owes a TOTP code; checking one;
* :mod:`~surveys.accounts.middleware` — sends users who owe a code to the verify page;
* :mod:`~surveys.accounts.forms`, :mod:`~surveys.accounts.views`,
  :mod:`~surveys.accounts.urls` — ``/`` and ``/accounts/two-factor/``.
"""
