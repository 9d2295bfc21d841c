"""On PostgreSQL, refuse TRUNCATE on the audit trail too (UPDATE and DELETE: 0002).

Row triggers do not fire on TRUNCATE; a statement-level BEFORE TRUNCATE trigger
does. Together with the application's role owning nothing (``manage.py
grant_app_role``: SELECT and INSERT only on this table), neither the
application nor anyone holding its credentials can empty or rewrite the trail.
"""

from django.db import migrations

CREATE = """
DROP TRIGGER IF EXISTS surveys_auditevent_no_truncate ON surveys_auditevent;
CREATE TRIGGER surveys_auditevent_no_truncate
    BEFORE TRUNCATE ON surveys_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION surveys_auditevent_immutable();
"""
DROP = "DROP TRIGGER IF EXISTS surveys_auditevent_no_truncate ON surveys_auditevent;"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("surveys", "0009_api_tokens_login_attempts_audit_actions_expired_jobs")]
    operations = [migrations.RunPython(forwards, backwards)]
