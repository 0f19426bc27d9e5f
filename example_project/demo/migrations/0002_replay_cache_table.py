"""Create the dedicated replay-cache table (added after 0001) in existing databases."""

from django.core.management import call_command
from django.db import migrations


def create_cache_tables(apps, schema_editor) -> None:
    # createcachetable skips tables that exist, so this only adds the new one.
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("demo", "0001_cache_table")]
    operations = [migrations.RunPython(create_cache_tables, migrations.RunPython.noop)]
