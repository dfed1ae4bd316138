"""The maintenance jobs' Django-Q2 schedules, registered by the apps' data migrations.

Every periodic job is a maintenance job, and its schedule is named
"maintenance: <app> <job>" (for example "maintenance: generation retention").
Registration goes by name and is idempotent: registering twice changes nothing,
and a schedule registered under an earlier name is renamed, keeping its next run.
Missed runs are not caught up (Q_CLUSTER catch_up is off): every job looks at the
current state, so one run after a pause does the work of all the missed ones.
"""

from django.utils import timezone


def register(apps, schedules: dict[str, dict], *, renamed: dict[str, str] | None = None) -> None:
    """Create or update each of `schedules` (name -> Schedule fields), after renaming
    the rows of `renamed` (earlier name -> name). `apps`: the migration's registry."""
    Schedule = apps.get_model("django_q", "Schedule")
    for old, new in (renamed or {}).items():
        if Schedule.objects.filter(name=new).exists():
            Schedule.objects.filter(name=old).delete()
        else:
            Schedule.objects.filter(name=old).update(name=new)
    for name, fields in schedules.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={**fields, "repeats": -1},
            create_defaults={**fields, "repeats": -1, "next_run": timezone.now()},
        )
