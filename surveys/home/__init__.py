"""Answering away from the clinic tablet: at home by a secure link, or by phone with staff.

``links``: home links and her access code; ``sessions``: opening a home or
phone session on the tablet's pages; ``calls``: the "needs a call" list and
call outcomes. See ``docs/home-and-phone.md``.
"""
