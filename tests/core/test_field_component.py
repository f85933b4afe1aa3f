"""components/field.html: a label, the widget, its errors and help tied to it by id."""

from django import forms
from django.template.loader import render_to_string


class _Form(forms.Form):
    name = forms.CharField(help_text="Shown on the list.")
    note = forms.CharField(required=False)
    token = forms.CharField(required=False, help_text="Leave blank to keep it.")
    rules = forms.CharField(required=False, help_text="<code>$$key</code> &amp; more")
    kind = forms.ChoiceField(choices=[("a", "A"), ("b", "B")], widget=forms.RadioSelect)


def _field(form: forms.Form, name: str) -> str:
    return render_to_string("components/field.html", {"field": form[name]})


def test_a_required_field_has_its_label_widget_and_help_tied_to_it():
    html = _field(_Form(), "name")
    assert '<label for="id_name">Name</label>' in html
    assert 'aria-describedby="id_name_helptext"' in html
    assert '<small class="muted" id="id_name_helptext">Shown on the list.</small>' in html
    assert "errorlist" not in html and "aria-invalid" not in html


def test_an_invalid_field_lists_its_errors_under_it_and_names_them():
    html = _field(_Form(data={}), "name")
    assert 'aria-invalid="true"' in html
    assert 'aria-describedby="id_name_helptext id_name_errors"' in html
    assert '<ul class="errorlist" id="id_name_errors"><li>This field is required.</li></ul>' in html


def test_an_optional_field_says_so_and_without_help_describes_nothing():
    html = _field(_Form(), "note")
    assert '<label for="id_note">Note <span class="muted">(optional)</span></label>' in html
    assert "aria-describedby" not in html and "<small" not in html


def test_a_secret_that_is_set_says_set_instead_of_optional():
    form = _Form()
    form.fields["token"].is_set = True
    html = _field(form, "token")
    assert 'Token <span class="badge good">set</span></label>' in html
    assert "(optional)" not in html


def test_help_text_is_html_as_in_djangos_own_forms():
    assert "><code>$$key</code> &amp; more</small>" in _field(_Form(), "rules")


def test_a_radio_group_keeps_djangos_rendering():
    html = _field(_Form(data={}), "kind")
    assert "aria-describedby" not in html
    assert '<ul class="errorlist" id="id_kind_errors">' in html
