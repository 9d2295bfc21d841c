"""On PostgreSQL, refuse UPDATE and DELETE on the audit trail from any client."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION surveys_auditevent_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS surveys_auditevent_no_change ON surveys_auditevent;
CREATE TRIGGER surveys_auditevent_no_change
    BEFORE UPDATE OR DELETE ON surveys_auditevent
    FOR EACH ROW EXECUTE FUNCTION surveys_auditevent_immutable();
"""
DROP = """
DROP TRIGGER IF EXISTS surveys_auditevent_no_change ON surveys_auditevent;
DROP FUNCTION IF EXISTS surveys_auditevent_immutable();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("surveys", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
