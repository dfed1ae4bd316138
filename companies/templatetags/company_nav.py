"""The navigation's company picker: the signed-in user's companies, one query (none
when the view already read them: `nav_companies` in its context)."""

from django import template

from companies.selectors import companies_for

register = template.Library()


@register.simple_tag(takes_context=True)
def my_companies(context) -> list:
    if context.get("nav_companies") is not None:
        return context["nav_companies"]
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    return list(companies_for(user=user).order_by("name").only("pk", "name"))
