"""`flask kabinet …`: set-up commands that `make run` chains after `flask db upgrade`."""
import click
from flask import current_app
from flask.cli import AppGroup

kabinet = AppGroup("kabinet", help="Kabinet set-up commands.")


@kabinet.command("init")
def init_command():
    """Create roles and permissions (idempotent)."""
    from .bootstrap import init_security

    init_security(current_app)
    click.echo("roles and permissions are up to date")


@kabinet.command("deploy-shipped")
def deploy_shipped_command():
    """Deploy the processes in app/bpmn (a new version only where they changed)."""
    from .bootstrap import deploy_shipped

    for definition, created in deploy_shipped():
        click.echo(f"{definition.key} v{definition.version}: {'deployed' if created else 'unchanged'}")


@kabinet.command("demo")
def demo_command():
    """Load demo data when the database has none (safe to run again)."""
    from .demo import load_demo

    click.echo(load_demo())


@kabinet.command("demo-totp")
def demo_totp_command():
    """DEMO ONLY: the current two-factor code of the demo admin and analyst."""
    import time

    import pyotp

    from .demo import DEMO_TOTP_SECRET

    totp = pyotp.TOTP(DEMO_TOTP_SECRET)
    left = totp.interval - int(time.time()) % totp.interval
    click.echo(f"{totp.now()}  (DEMO ONLY: good for {left} s more and once per user; "
               f"secret {DEMO_TOTP_SECRET})")


@kabinet.command("daily")
@click.option("--date", "day", type=click.DateTime(formats=["%Y-%m-%d"]), help="Run as on this day (default today).")
@click.option("--task", "tasks", multiple=True, help="Only this task (repeatable).")
def daily_command(day, tasks):
    """Run the once-a-day tasks not yet run for the day (reminders, autopay, e-bills)."""
    from .services import daily

    for name, result in daily.run_due(day.date() if day else None, only=set(tasks) or None).items():
        click.echo(f"{name}: {result}")


def register_cli(app):
    app.cli.add_command(kabinet)
