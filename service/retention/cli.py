"""`trygg retention`: what disposal would remove now (--dry-run), or dispose of it now."""

from __future__ import annotations

import sys
from zoneinfo import ZoneInfo

import click

from service.config import Settings
from service.context import Services
from service.retention.disposal import (
    RAN_BY_CLI,
    CaseVerdict,
    DisposalPlan,
    KeepReason,
    plan_disposal,
    run_disposal,
)
from service.retention.rules import RetentionRulesError

KEEP_TEXT = {
    KeepReason.LEGAL_HOLD: "rättslig spärr",
    KeepReason.LINKED_LEGAL_HOLD: "rättslig spärr på länkat ärende {held_by}",
    KeepReason.ALARM_REGISTERED: "ett larm är fortfarande registrerat genom ärendet",
    KeepReason.IN_FORCE: "åtgärden gäller fortfarande (inget slutdatum)",
}
RECORD_NAMES = {
    "notification": "aviseringar",
    "job": "bakgrundsjobb",
    "login_attempt": "inloggningsförsök",
}


def _day(verdict: CaseVerdict, settings: Settings) -> tuple[str, str]:
    zone = ZoneInfo(settings.timezone)
    return (
        verdict.closed_at.astimezone(zone).date().isoformat(),
        verdict.due_at.astimezone(zone).date().isoformat(),
    )


def _print_plan(plan: DisposalPlan, settings: Settings) -> None:
    click.echo(f"Gallringsregler: {plan.rules.source}")
    click.echo(f"\nÄrenden som gallras ({len(plan.due)}):")
    for verdict in plan.due:
        closed, due = _day(verdict, settings)
        click.echo(
            f"  ärende {verdict.case_id:<7} {verdict.process_id:<24} avslutat {closed}, "
            f"gallringsbart {due} ({verdict.rule.text})"
        )
    if plan.more_due:
        click.echo("  … och fler: de tas vid nästa körning.")
    if plan.kept:
        click.echo(f"\nÄrenden som har passerat sin tid men behålls ({len(plan.kept)}):")
        for verdict in plan.kept:
            closed, _due = _day(verdict, settings)
            reason = KEEP_TEXT[verdict.kept or ""].format(held_by=verdict.held_by)
            click.echo(
                f"  ärende {verdict.case_id:<7} {verdict.process_id:<24} avslutat {closed}: {reason}"
            )
    click.echo("\nÖvriga poster som gallras:")
    for count in plan.records:
        click.echo(f"  {RECORD_NAMES[count.rule.record_type]:<20} {count.count}")
    click.echo(f"  {'filer utan ärende':<20} {len(plan.orphan_files)}")
    if plan.without_rule:
        click.echo("\nAvslutade ärenden utan gallringsregel (bevaras):")
        for process_id, number in sorted(plan.without_rule.items()):
            click.echo(f"  {process_id:<24} {number}")


@click.command()
@click.option(
    "--dry-run",
    is_flag=True,
    help="List what would be disposed of now, and what is kept and why; change nothing.",
)
def retention(dry_run: bool) -> None:
    """Dispose of (gallra) the records whose retention period has passed."""
    settings = Settings.from_env()
    services = Services.create(settings)
    try:
        if dry_run:
            plan = plan_disposal(services)
            _print_plan(plan, settings)
            click.echo("\nProvkörning: ingenting har ändrats.")
            return
        report = run_disposal(services, ran_by=RAN_BY_CLI)
    except RetentionRulesError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    finally:
        services.db.engine.dispose()
    _print_plan(report.plan, settings)
    click.echo(
        f"\nGallrat: {len(report.disposed)} ärenden, {report.files_removed} filer, "
        + ", ".join(f"{n} {RECORD_NAMES.get(k, k)}" for k, n in report.records.items())
        + f". Gallringsprotokoll: körning {report.run_id}."
    )
    if report.failed:
        click.echo(
            f"{len(report.failed)} ärenden kunde inte gallras (se loggen): "
            + ", ".join(str(i) for i in report.failed),
            err=True,
        )
        sys.exit(1)
