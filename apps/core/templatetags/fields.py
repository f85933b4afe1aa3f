"""The widget of a field rendered by components/field.html, tied to its help and errors."""

from django import template
from django.forms import BoundField
from django.utils.safestring import SafeString

register = template.Library()


@register.filter
def described_widget(field: BoundField) -> SafeString:
    """The field's widget with aria-describedby naming the ids components/field.html gives its
    help (``<id>_helptext``, as Django names it) and its errors (``<id>_errors``, Herald's name
    for the error list on every page; Django would say ``<id>_error``). A radio group (a
    fieldset) and a widget that names its own description keep Django's rendering."""
    described_by = []
    if field.auto_id and not field.is_hidden:
        if field.help_text:
            described_by.append(f"{field.auto_id}_helptext")
        if field.errors:
            described_by.append(f"{field.auto_id}_errors")
    if (
        not described_by
        or field.use_fieldset
        or field.field.widget.attrs.get("aria-describedby")
        or field.field.show_hidden_initial
    ):
        return SafeString(str(field))
    return field.as_widget(attrs={"aria-describedby": " ".join(described_by)})
