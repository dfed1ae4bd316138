from django.core.management.base import BaseCommand, CommandError

from companies.models import Role
from companies.services import create_api_user


class Command(BaseCommand):
    help = "Create (or update) a user with an API token and a role in a company."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("company", help="company name; created if it does not exist")
        parser.add_argument("--role", choices=Role.values, default=Role.EDITOR)
        parser.add_argument("--password", help="also allow session (browser) login")

    def handle(self, *args, **options):
        try:
            membership, token = create_api_user(
                username=options["username"],
                company_name=options["company"],
                role=options["role"],
                password=options["password"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"{membership.user.username} is {membership.role} of {membership.company.name} "
            f"(company id {membership.company_id})"
        )
        self.stdout.write(f"token: {token.key}")
