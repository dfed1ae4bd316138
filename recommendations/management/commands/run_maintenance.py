import json
import sys

from django.core.management.base import BaseCommand
from tqdm import tqdm

from recommendations import maintenance


class Command(BaseCommand):
    help = (
        "Run the recommendations maintenance job now: mark stale by context and by age, "
        "then delete context snapshots past retention (same as the schedules)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=None)
        parser.add_argument(
            "--only", choices=["stale", "cleanup"], default=None, help="Run one half of the job."
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

        kwargs = {"batch_size": batch_size, "progress": None if no_progress else progress}
        try:
            if only == "stale":
                report = maintenance.mark_stale(**kwargs)
            elif only == "cleanup":
                report = maintenance.cleanup(**kwargs)
            else:
                report = maintenance.run_maintenance(**kwargs)
        finally:
            for bar in bars.values():
                bar.close()
        self.stdout.write(json.dumps(report.as_dict(), indent=2))
