"""Full-text search over proposals: FTS5 on SQLite, a GIN index on PostgreSQL.

SQLite: an external-content FTS5 table over (title, body), kept in step by triggers, so every
write path (services, admin, erasure) updates it. PostgreSQL: an expression index on the
French, accent-folded text-search vector of title and body, which ``search.py`` queries with the same
expression so that the planner uses it.
"""

from django.db import migrations

SQLITE_UP = [
    """CREATE VIRTUAL TABLE participation_proposal_fts USING fts5(
        title, body, content='participation_proposal', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER participation_proposal_fts_ai AFTER INSERT ON participation_proposal BEGIN
        INSERT INTO participation_proposal_fts(rowid, title, body)
        VALUES (new.id, new.title, new.body);
    END""",
    """CREATE TRIGGER participation_proposal_fts_ad AFTER DELETE ON participation_proposal BEGIN
        INSERT INTO participation_proposal_fts(participation_proposal_fts, rowid, title, body)
        VALUES ('delete', old.id, old.title, old.body);
    END""",
    """CREATE TRIGGER participation_proposal_fts_au AFTER UPDATE OF title, body
        ON participation_proposal BEGIN
        INSERT INTO participation_proposal_fts(participation_proposal_fts, rowid, title, body)
        VALUES ('delete', old.id, old.title, old.body);
        INSERT INTO participation_proposal_fts(rowid, title, body)
        VALUES (new.id, new.title, new.body);
    END""",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS participation_proposal_fts_au",
    "DROP TRIGGER IF EXISTS participation_proposal_fts_ad",
    "DROP TRIGGER IF EXISTS participation_proposal_fts_ai",
    "DROP TABLE IF EXISTS participation_proposal_fts",
]
# French stemming with accents folded (unaccent is a trusted extension since PostgreSQL 13:
# the database owner may create it), so "ecole" finds "écoles" as on SQLite.
PG_UP = [
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    "CREATE TEXT SEARCH CONFIGURATION nextwork_french (COPY = french)",
    """ALTER TEXT SEARCH CONFIGURATION nextwork_french
        ALTER MAPPING FOR hword, hword_part, word WITH unaccent, french_stem""",
    """CREATE INDEX participation_proposal_fts ON participation_proposal
        USING gin (to_tsvector('nextwork_french'::regconfig, title || ' ' || body))""",
]
PG_DOWN = [
    "DROP INDEX IF EXISTS participation_proposal_fts",
    "DROP TEXT SEARCH CONFIGURATION IF EXISTS nextwork_french",
]


def _run(statements):
    def run(apps, schema_editor):
        vendor = schema_editor.connection.vendor
        for sql in statements.get(vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("participation", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_UP, "postgresql": PG_UP}),
            _run({"sqlite": SQLITE_DOWN, "postgresql": PG_DOWN}),
        )
    ]
