"""Reaching patients outside the clinic: contact details, reminder policy, delivery, outbox.

docs/reminders.md tells the whole story: what is stored (encrypted), who sees it,
when it is erased; when a reminder falls due and everything checked before it goes.
"""
