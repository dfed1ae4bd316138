from django.core.management.base import BaseCommand
from django.db import transaction


class Command(BaseCommand):
    help = "Load the demo companies, users and content (idempotent: safe to run again)."

    def handle(self, *args, **options):
        from django.contrib.auth import get_user_model

        from companies.services import create_api_user
        from deliverables.demo import load_demo as load_deliverables
        from recommendations.demo import load_demo as load_recommendations

        with transaction.atomic():
            # The password is set once: running the demo again signs nobody out.
            exists = get_user_model().objects.filter(username="demo").exists()
            membership, token = create_api_user(
                username="demo",
                company_name="Acme Demo",
                role="admin",
                password=None if exists else "demo",
            )
            user = membership.user
            if not user.is_staff:
                user.is_staff = user.is_superuser = True
                user.save(update_fields=["is_staff", "is_superuser"])
            load_recommendations(stdout=self.stdout)
            load_deliverables(stdout=self.stdout)
        password = "its password as set" if exists else "demo"
        self.stdout.write(f"demo login: demo / {password} (admin of {membership.company.name})")
        self.stdout.write(f"demo API token: {token.key}")
