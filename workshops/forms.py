"""The instructor's and the learner's forms."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from workshops.lessons import library
from workshops.models import MAX_NODES, Workshop, normalise_code


class WorkshopForm(forms.ModelForm):
    lesson_pack = forms.ChoiceField(label=_("Lesson pack"))

    class Meta:
        model = Workshop
        fields = ["title", "lesson_pack", "language", "nodes", "node_size", "kube_proxy_mode", "max_seats"]

    def __init__(self, *args, language: str = "en", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lesson_pack"].choices = library().choices(language)
        self.fields["nodes"].min_value = 1
        self.fields["nodes"].max_value = MAX_NODES
        self.fields["nodes"].widget.attrs.update(min=1, max=MAX_NODES)

    def clean_nodes(self) -> int:
        nodes = self.cleaned_data["nodes"]
        if not 1 <= nodes <= MAX_NODES:
            raise forms.ValidationError(_("Between 1 and %(max)d worker nodes.") % {"max": MAX_NODES})
        return nodes


class JoinForm(forms.Form):
    code = forms.CharField(label=_("Join code"), max_length=16)
    display_name = forms.CharField(label=_("Your name"), max_length=60)

    def clean_code(self) -> str:
        return normalise_code(self.cleaned_data["code"])

    def clean_display_name(self) -> str:
        name = " ".join(self.cleaned_data["display_name"].split())
        if not name:
            raise forms.ValidationError(_("Tell the instructor who you are."))
        return name
