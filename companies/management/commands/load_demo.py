from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Load demo data (idempotent). Apps add their own parts in later issues."

    def handle(self, *args, **options):
        from companies.services import create_api_user

        membership, token = create_api_user(
            username="demo", company_name="Acme Demo", role="admin", password="demo"
        )
        self.stdout.write(f"demo login: demo / demo (company {membership.company.name})")
        self.stdout.write(f"demo API token: {token.key}")
