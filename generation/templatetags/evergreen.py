from django import template
from django.utils.safestring import mark_safe

from generation.rendering import clean_html, render_markdown

register = template.Library()


@register.filter
def markdown(text: str) -> str:
    """Untrusted markdown to cleaned HTML."""
    return mark_safe(render_markdown(text))


@register.filter
def cleaned(html: str) -> str:
    """Untrusted HTML, cleaned again at render time."""
    return mark_safe(clean_html(html))
