from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Prepare a new deployment without demo data: the journey's definition (safe to "
        "run again). The prompts come with the migrations; create the first admin with "
        "`manage.py createsuperuser`."
    )

    def handle(self, *args, **options):
        from recommendations.demo import load_journey

        steps = load_journey()
        self.stdout.write(f"journey: {len(steps)} steps")
        self.stdout.write("next: manage.py createsuperuser (the first admin)")
