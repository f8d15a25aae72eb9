"""The migrations build exactly the models' schema, and go down and up again."""
from flask_migrate import check, downgrade, upgrade

from app import create_app
from app.extensions import db


def test_migrations_match_the_models_and_round_trip(make_pg_database, tmp_path):
    for url in (make_pg_database(), f"sqlite:///{tmp_path / 'migrations.db'}"):
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
        with app.app_context():
            upgrade()
            check()  # raises when autogenerate finds a difference between models and schema
            downgrade(revision="base")
            assert db.inspect(db.engine).get_table_names() in ([], ["alembic_version"])
            upgrade()
            assert {"process_instance", "human_task", "ab_user", "service_job"} <= set(
                db.inspect(db.engine).get_table_names())
            db.session.remove()
            db.engine.dispose()
