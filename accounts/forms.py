"""The signup and preference forms: every rule a subscriber's input must meet."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.db.models import Q, QuerySet

from accounts.mailbox import validate_plain_address
from accounts.models import MAX_PAPERS, TOO_FEW_PAPERS, TOO_MANY_PAPERS, Subscriber, topic_lines
from accounts.schedule import is_valid_time_zone
from digest.matching import TopicSyntaxError, check_topic
from digest.models import Topic

# Stored with each Consent record: bump it whenever the signup page's wording changes.
FORM_VERSION = "signup-2026-11"
MAX_OWN_TOPICS = 20
MAX_TOPIC_LENGTH = 300
PREFERENCE_FIELDS = [
    "topics",
    "own_topics",
    "frequency",
    "weekday",
    "send_hour",
    "time_zone",
    "max_papers",
]
HOUR_CHOICES = [(hour, f"{hour:02d}:00") for hour in range(24)]


def check_topic_line(line: str) -> str | None:
    """The reason a typed topic cannot be used, or None when it can."""
    if len(line) > MAX_TOPIC_LENGTH:
        return f"A topic can be at most {MAX_TOPIC_LENGTH} characters long."
    try:
        check_topic(line)
    except TopicSyntaxError as exc:
        return str(exc)
    return None


class TopicLinesField(forms.CharField):
    """Topics typed one per line, each checked against the topic language."""

    widget = forms.Textarea(attrs={"rows": 4, "spellcheck": "false"})

    def clean(self, value: str) -> str:
        lines = topic_lines(super().clean(value) or "")
        if len(lines) > MAX_OWN_TOPICS:
            raise forms.ValidationError(f"At most {MAX_OWN_TOPICS} typed topics, please.")
        errors = [
            f"Line {number}: {problem}"
            for number, line in enumerate(lines, start=1)
            if (problem := check_topic_line(line))
        ]
        if errors:
            raise forms.ValidationError(errors)
        return "\n".join(lines)


class PreferencesForm(forms.ModelForm):
    topics = forms.ModelMultipleChoiceField(
        queryset=Topic.objects.filter(public=True),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Topics from the catalogue",
    )
    own_topics = TopicLinesField(
        required=False,
        label="Your own topics, one per line",
        help_text=(
            'Words near each other: knowledge distillation · a phrase: "mixture of experts" · '
            "alternatives: diffusion, score-based · exclude: -survey · prefix: distill* · "
            "fields: author:Hinton, category:cs.CL, title:(graph neural)"
        ),
    )
    send_hour = forms.TypedChoiceField(choices=HOUR_CHOICES, coerce=int, label="Delivery hour")
    max_papers = forms.IntegerField(
        min_value=1,
        max_value=MAX_PAPERS,
        label="Most papers per email",
        error_messages={
            "max_value": TOO_MANY_PAPERS,
            "min_value": TOO_FEW_PAPERS,
            "invalid": f"A number of papers from 1 to {MAX_PAPERS}.",
            "required": f"How many papers at most, from 1 to {MAX_PAPERS}?",
        },
    )
    time_zone = forms.CharField(
        max_length=64,
        label="Time zone",
        help_text="Detected from your browser; for example Europe/Paris or America/New_York.",
    )

    class Meta:
        model = Subscriber
        fields = PREFERENCE_FIELDS
        widgets = {"frequency": forms.RadioSelect}
        labels = {"weekday": "Weekly on"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # Keep topics an operator gave this subscriber even when not public.
            topics = cast("forms.ModelMultipleChoiceField[Topic]", self.fields["topics"])
            topics.queryset = Topic.objects.filter(
                Q(public=True) | Q(subscribers=self.instance)
            ).distinct()

    def _offered_topics(self) -> QuerySet[Topic]:
        # The model's many-to-many field: self.fields is typed as holding plain Fields.
        field = self.fields["topics"]
        assert isinstance(field, forms.ModelMultipleChoiceField) and field.queryset is not None
        return field.queryset

    def topic_choices(self) -> list[tuple[Topic, bool]]:
        """Each offered topic and whether it is ticked, from one query (the page
        renders these itself: Django's per-option widget rendering is slow)."""
        ticked = {str(value) for value in self["topics"].value() or []}
        return [(topic, str(topic.pk) in ticked) for topic in self._offered_topics()]

    def error_links(self) -> list[tuple[str, str]]:
        """Each error as (id of the input to go to, message), in the page's order, for
        the summary at the top of the form."""
        links = []
        for name, field in self.fields.items():
            anchor = {"topics": "id_topics_0", "frequency": "id_frequency_0"}.get(
                name, self[name].auto_id
            )
            if name == "topics" and not self._offered_topics().exists():
                anchor = self["own_topics"].auto_id
            links += [(anchor, f"{field.label}: {error}") for error in self.errors.get(name, [])]
        # "Pick at least one topic": the topics are where to fix it.
        return [
            (self["own_topics"].auto_id, str(error)) for error in self.non_field_errors()
        ] + links

    def clean_time_zone(self) -> str:
        name = self.cleaned_data["time_zone"].strip()
        if not is_valid_time_zone(name):
            raise forms.ValidationError(
                "Not a time zone we know; use a name such as Europe/Paris or UTC."
            )
        return name

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if not data.get("topics") and not data.get("own_topics") and not self.errors:
            raise forms.ValidationError("Pick at least one topic, or type one.")
        return data


class SubscribeForm(PreferencesForm):
    # Not a model field: a ModelForm would check uniqueness and tell who is subscribed.
    email = forms.EmailField(
        max_length=254, label="Email address", validators=[validate_plain_address]
    )
    # The honeypot: hidden from people by CSS, filled in by naive bots.
    website = forms.CharField(required=False, label="Leave this field empty")

    field_order = ["email", *PREFERENCE_FIELDS, "website"]

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()


class EmailForm(forms.Form):
    email = forms.EmailField(
        max_length=254, label="Email address", validators=[validate_plain_address]
    )

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()
