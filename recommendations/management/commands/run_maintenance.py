import json
import sys

from django.core.management.base import BaseCommand
from tqdm import tqdm

from recommendations import maintenance


class Command(BaseCommand):
    help = (
        "Run every maintenance job now, as the schedules do: mark stale by context and by "
        "age, then delete what is past retention (context snapshots, generation chunks, "
        "logs, hit counters and superseded generations)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=None)
        parser.add_argument(
            "--only",
            choices=["stale", "retention"],
            default=None,
            help="Run only the stale marking, or only the retention jobs.",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args, batch_size=None, only=None, no_progress=False, **options):
        bars: dict[str, tqdm] = {}

        def progress(label: str, advanced: int, total: int) -> None:
            bar = bars.get(label)
            if bar is None:
                bar = bars[label] = tqdm(
                    total=total, desc=label, unit="id", file=sys.stderr, leave=True
                )
            bar.update(min(advanced, max(0, bar.total - bar.n)))

        try:
            report = maintenance.run_maintenance(
                only=only, batch_size=batch_size, progress=None if no_progress else progress
            )
        finally:
            for bar in bars.values():
                bar.close()
        self.stdout.write(json.dumps(report, indent=2))
