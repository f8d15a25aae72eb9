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


@kabinet.command("import")
@click.argument("kind")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "file_format", type=click.Choice(["csv", "json"]), help="Default: the file's extension.")
@click.option("--partial", is_flag=True, help="Import the rows without errors instead of nothing.")
@click.option("--by", "started_by", default="cli", show_default=True, help="Who ran it (kept in the batch).")
def import_command(kind, path, file_format, partial, started_by):
    """Import a billing-system file of KIND (CSV or JSON, see docs/billing-import.md); exit 1 on errors."""
    import os

    from .services import billing_import

    if kind not in billing_import.KINDS:
        raise click.BadParameter(f"one of {', '.join(sorted(billing_import.KINDS))}", param_hint="KIND")
    file_format = file_format or os.path.splitext(path)[1].lower().lstrip(".")
    if file_format not in billing_import.FORMATS:
        raise click.UsageError("give --format csv or json")
    with open(path, "rb") as handle:
        batch = billing_import.import_file(kind, handle.read(), file_format, filename=os.path.basename(path),
                                           started_by=started_by, partial=partial)
    for error in batch.errors[:50]:
        click.echo(f"row {error['row']}, {error['column'] or '-'}: {error['message_en']} ({error['code']})", err=True)
    click.echo(f"batch {batch.id} {batch.status}: "
               + ", ".join(f"{name} {value}" for name, value in batch.stats.items()))
    if batch.status != "done":
        raise SystemExit(1)


@kabinet.command("export")
@click.argument("kind", type=click.Choice(["readings", "payments"]))
@click.option("--format", "file_format", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--period", help="YYYY-MM: that month again, whatever was exported; marks unchanged.")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M"]),
              help="UTC time: everything changed since then again; marks unchanged.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="File to write (default: standard output).")
@click.option("--by", "started_by", default="cli", show_default=True)
def export_command(kind, file_format, period, since, output, started_by):
    """Export customers' readings or Kabinet payments for the billing system. Without --period
    or --since: what is not yet exported, marked exported in the same transaction."""
    from .services import billing_export, periods

    try:
        period = periods.parse(period) if period else None
    except ValueError:
        raise click.BadParameter("YYYY-MM", param_hint="--period") from None
    batch, content, filename = billing_export.export(kind, file_format, period=period, since=since,
                                                     started_by=started_by)
    if output:
        with open(output, "wb") as handle:
            handle.write(content)
    else:
        click.echo(content, nl=False)
    click.echo(f"batch {batch.id}: {batch.stats['rows']} rows ({filename}), marked {batch.stats['marked']}", err=True)


def register_cli(app):
    app.cli.add_command(kabinet)
