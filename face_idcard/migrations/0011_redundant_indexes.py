# Three indexes that another index already serves: fewer to write on each new attempt.
#
# - face_idcard_created_idx (created_at): face_idcard_stats_idx leads with created_at.
# - the user foreign key's own index: face_idcard_user_hash_idx leads with user_id.
# - the event's attempt foreign key's own index: face_idcard_event_idx leads with attempt_id.
#
# A foreign key's db_index=False through AlterField would drop and re-create the constraint,
# validating every row again under a table lock (a long migration on a large table). Here
# the state changes as AlterField says, and the database only loses the index.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# (model, field) whose index of its own is dropped.
FOREIGN_KEY_INDEXES = (("attemptevent", "attempt"), ("verificationattempt", "user"))


def _own_indexes(schema_editor, model, column):
    """The names of the plain one-column indexes on ``column`` that are not in the model's
    Meta.indexes (the index ``db_index=True`` created)."""
    declared = {index.name for index in model._meta.indexes}
    with schema_editor.connection.cursor() as cursor:
        constraints = schema_editor.connection.introspection.get_constraints(
            cursor, model._meta.db_table
        )
    return [
        name
        for name, info in constraints.items()
        if info["index"]
        and not info["unique"]
        and not info["primary_key"]
        and not info["foreign_key"]
        and info["columns"] == [column]
        and name not in declared
    ]


def drop_foreign_key_indexes(apps, schema_editor):
    # MySQL backs each foreign key with an index of its own choosing: left as it is there.
    if schema_editor.connection.vendor == "mysql":
        return
    for model_name, field_name in FOREIGN_KEY_INDEXES:
        model = apps.get_model("face_idcard", model_name)
        column = model._meta.get_field(field_name).column
        for name in _own_indexes(schema_editor, model, column):
            schema_editor.execute(schema_editor._delete_index_sql(model, name))


def create_foreign_key_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "mysql":
        return
    for model_name, field_name in FOREIGN_KEY_INDEXES:
        model = apps.get_model("face_idcard", model_name)
        field = model._meta.get_field(field_name)
        if not _own_indexes(schema_editor, model, field.column):
            schema_editor.execute(schema_editor._create_index_sql(model, fields=[field]))


class Migration(migrations.Migration):

    dependencies = [
        ('face_idcard', '0010_statistics_rollup'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='verificationattempt',
            name='face_idcard_created_idx',
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='attemptevent',
                    name='attempt',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='events', to='face_idcard.verificationattempt', verbose_name='attempt'),
                ),
                migrations.AlterField(
                    model_name='verificationattempt',
                    name='user',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='face_idcard_attempts', to=settings.AUTH_USER_MODEL, verbose_name='user'),
                ),
            ],
            database_operations=[
                migrations.RunPython(drop_foreign_key_indexes, create_foreign_key_indexes),
            ],
        ),
    ]
